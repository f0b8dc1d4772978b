"""Retention policies from the configuration file: the dry run lists, the run removes, holds are kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from helpline.store import models as m
from helpline.store.siteconfig.config_file import ConfigFileError, parse
from helpline.store.lifecycle import holds

from ..workers.builders import Desk
from .helpers import rich_mail, run_cli

import pytest

OLD_FILE = b"old attachment bytes " + bytes(range(100))
NEW_FILE = b"new attachment bytes " + bytes(range(100, 200))
HELD_FILE = b"held attachment bytes " + bytes(range(50))


def _age(ticket_id: int, days: int, closed: bool) -> None:
    when = m.utcnow() - dt.timedelta(days=days)
    m.Message.update(created_at=when).where(m.Message.ticket == ticket_id).execute()
    if closed:
        m.Ticket.update(status="closed", closed_at=when, resolved_at=when).where(m.Ticket.id == ticket_id).execute()


def test_dry_run_lists_and_the_run_removes_what_the_policy_says(backend, tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "helpline.toml"
    cfg.write_text(
        "[[retention.policies]]\nraw_mime_days = 10\nattachment_days = 30\n"
        'closed_ticket_days = 365\nclosed_ticket_action = "anonymise"\n'
    )
    settings = backend.replace(config_file=str(cfg))
    desk = Desk(settings)
    old = desk.receive(
        rich_mail("Old <old@example.net>", "oldword text", "<p>oldword</p>", [("o.pdf", OLD_FILE)])
    ).ticket_id
    new = desk.receive(
        rich_mail("New <new@example.net>", "newword text", "<p>newword</p>", [("n.pdf", NEW_FILE)])
    ).ticket_id
    held = desk.receive(
        rich_mail("Held <held@example.net>", "heldword", "<p>heldword</p>", [("h.pdf", HELD_FILE)])
    ).ticket_id
    _age(old, 400, closed=True)
    _age(held, 400, closed=True)
    holds.set_hold(m.Ticket.get_by_id(held).customer_id, True, actor="test", reason="audit")
    before = {t: m.Message.get(m.Message.ticket == t).text for t in (old, new, held)}

    assert run_cli(monkeypatch, settings, "retention", "--dry-run") == 0
    out = capsys.readouterr().out
    number = m.Ticket.get_by_id(old).number
    assert f"closed_tickets: {number}" in out and "attachments=1" in out and "raw_mime=1" in out
    assert m.Ticket.get_by_id(new).number not in out and m.Ticket.get_by_id(held).number not in out
    assert {t: m.Message.get(m.Message.ticket == t).text for t in before} == before  # nothing changed

    assert run_cli(monkeypatch, settings, "retention") == 0
    out = capsys.readouterr().out
    assert "closed_tickets=1" in out and "attachments=1" in out
    msg = m.Message.get(m.Message.ticket == old)
    assert msg.text == "" and msg.raw_blob_key == "" and not list(msg.attachments)
    assert m.Ticket.get_by_id(old).status == "closed"  # the figures stay
    assert not any(
        desk.intake.blobs.exists(k) for k in [f"sha256:{__import__('hashlib').sha256(OLD_FILE).hexdigest()}"]
    )
    for t in (new, held):
        kept = m.Message.get(m.Message.ticket == t)
        assert kept.text == before[t] and kept.raw_blob_key and len(list(kept.attachments)) == 1
    assert run_cli(monkeypatch, settings, "retention") == 0  # a second run finds nothing
    assert "nothing" in capsys.readouterr().out


def test_policy_mistakes_are_named():
    with pytest.raises(ConfigFileError, match="no team 'nope'"):
        parse('[[teams]]\nname = "billing"\n[[retention.policies]]\nteam = "nope"\nraw_mime_days = 3\n', "x.toml")
    with pytest.raises(ConfigFileError, match="closed_ticket_action"):
        parse('[[retention.policies]]\nclosed_ticket_days = 3\nclosed_ticket_action = "shred"\n', "x.toml")
    with pytest.raises(ConfigFileError, match="raw_mime_days"):
        parse("[[retention.policies]]\nraw_mime_days = 0\n", "x.toml")


def test_the_scheduler_job_runs_under_its_lease_and_counts(backend, tmp_path):
    from helpline.store.channels import imap_state
    from helpline.workers import scheduler
    from helpline.workers.jobs import retention_job

    cfg = tmp_path / "helpline.toml"
    cfg.write_text("[[retention.policies]]\nattachment_days = 1\n")
    settings = backend.replace(config_file=str(cfg), retention_interval_s=3600.0)
    desk = Desk(settings)
    tid = desk.receive(rich_mail("Old <old@example.net>", "x", "<p>x</p>", [("o.pdf", OLD_FILE)])).ticket_id
    _age(tid, 5, closed=False)
    assert imap_state.acquire_lease(retention_job.LEASE, "other-host", 60)
    assert retention_job.run_once(settings, holder="me") == {"skipped": "another scheduler holds the retention lease"}
    imap_state.release_lease(retention_job.LEASE, "other-host")
    before = retention_job.REMOVED.labels("attachments")._value.get()
    retention_job._last.clear()
    done = retention_job.due_job(settings)  # what scheduler.tick runs each round
    assert done["counts"]["attachments"] == 1
    assert retention_job.REMOVED.labels("attachments")._value.get() == before + 1
    assert retention_job.due_job(settings) is None  # not again before the interval
    assert "retention_job.due_job" in Path(scheduler.__file__).read_text()
