"""``helpline tickets reply|note|undo --actor``: agents without Slack answer from the command line, through
the reply path Slack and the API use, with the same undo window. A subprocess against the real configuration
and database (SQLite and PostgreSQL); the reply is sent to the local relay sink by the real email sender."""

from __future__ import annotations

import datetime as dt
import json

from helpline.notifier.deliver import deliver_due
from helpline.notifier.email.email_sender import EmailSender
from helpline.store import models as m

from ..workers.builders import ALICE_ADDR, Desk
from .conftest import DESK_TOML, write_config
from .test_routing_cli import helpline


def _desk(backend, tmp_path, relay_sink, undo: float = 0.0) -> Desk:  # noqa: ANN001
    s = backend.replace(
        config_file=write_config(tmp_path, DESK_TOML),
        smtp_relay=relay_sink.address,
        slack_undo_seconds=undo,
        support_addresses=("support@example.com", "billing@example.com"),
    )
    assert helpline(s, "teams", "sync").returncode == 0
    return Desk(s)


def _send_due(desk: Desk, later_s: float = 0.0) -> int:
    sender = EmailSender(desk.settings)
    try:
        now = m.utcnow() + dt.timedelta(seconds=later_s)
        return deliver_due(desk.settings, sender, now=now).sent
    finally:
        sender.close()


def test_reply_with_file_reaches_the_customer_and_note_does_not(backend, tmp_path, relay_sink):
    desk = _desk(backend, tmp_path, relay_sink)
    ticket, mid = desk.new_ticket(to="billing@example.com", subject="Invoice twice")
    doc = tmp_path / "credit-note.pdf"
    doc.write_bytes(b"%PDF-1.4 credit note\n")
    out = helpline(
        desk.settings,
        "tickets",
        "reply",
        ticket.number,
        "--text",
        "We refunded the second charge.",
        "--file",
        str(doc),
        "--actor",
        "ann@example.com",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert done["channel"] == "email" and done["to"] == ALICE_ADDR and done["files_sent"] == "attached"
    note = helpline(
        desk.settings, "tickets", "note", ticket.number, "--text", "Refund done in Stripe", "--actor", "ann@example.com"
    )
    assert note.returncode == 0, note.stderr
    sent = _send_due(desk, later_s=1)
    got = [r.message() for r in relay_sink.wait_for(sent)]
    (got,) = [g for g in got if "second charge" in g.as_string()]  # the reply; never the note
    assert got["In-Reply-To"] == mid and ticket.number in got["Subject"]
    assert "We refunded the second charge." in got.get_body(("plain",)).get_content()
    (part,) = list(got.iter_attachments())
    assert part.get_filename() == "credit-note.pdf" and part.get_content() == b"%PDF-1.4 credit note\n"
    assert "Refund done in Stripe" not in got.as_string()
    notes = m.Message.select().where((m.Message.ticket == ticket) & (m.Message.direction == "note"))
    assert [(n.text, n.author) for n in notes] == [("Refund done in Stripe", "ann")]  # the agent's name
    replied = m.Event.get((m.Event.ticket == ticket) & (m.Event.kind == "agent_replied"))
    assert replied.actor == "ann@example.com" and replied.data["via"] == "cli"
    assert m.Event.get((m.Event.ticket == ticket) & (m.Event.kind == "note_added")).actor == "ann@example.com"
    emails = m.Outbox.select().where((m.Outbox.ticket == ticket) & (m.Outbox.channel == "email"))
    assert sorted(r.kind for r in emails) == ["ack", "reply"]


def test_undo_window_key_and_refusals(backend, tmp_path, relay_sink):
    desk = _desk(backend, tmp_path, relay_sink, undo=30.0)
    ticket, _ = desk.new_ticket(to="billing@example.com")
    out = helpline(
        desk.settings,
        "tickets",
        "reply",
        ticket.number,
        "--text",
        "Oops, wrong ticket",
        "--actor",
        "ann@example.com",
        "--key",
        "k1",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert first["due_in_s"] == 30.0 and len(first["outbox"]) == 1
    _send_due(desk, later_s=1)
    assert m.Outbox.get_by_id(first["outbox"][0]).status == "pending"  # the reply waits out its window
    again = helpline(
        desk.settings,
        "tickets",
        "reply",
        ticket.number,
        "--text",
        "Oops, wrong ticket",
        "--actor",
        "ann@example.com",
        "--key",
        "k1",
        "--json",
    )
    assert again.returncode == 0 and json.loads(again.stdout)["repeated"] is True
    other = helpline(
        desk.settings,
        "tickets",
        "reply",
        ticket.number,
        "--text",
        "Another text",
        "--actor",
        "ann@example.com",
        "--key",
        "k1",
    )
    assert other.returncode == 1 and "already used for a different answer" in other.stderr
    undo = helpline(desk.settings, "tickets", "undo", str(first["outbox"][0]), "--actor", "ann@example.com")
    assert undo.returncode == 0 and "withdrawn" in undo.stdout, undo.stderr
    assert (
        helpline(desk.settings, "tickets", "undo", str(first["outbox"][0]), "--actor", "ann@example.com").returncode
        == 1
    )  # nothing left to withdraw
    assert _send_due(desk, later_s=60) == 0
    row = m.Outbox.get_by_id(first["outbox"][0])
    assert row.status == "suppressed" and "by ann@example.com" in row.last_error
    assert (
        m.Event.get((m.Event.ticket == ticket) & (m.Event.kind == "agent_reply_withdrawn")).actor == "ann@example.com"
    )
    # an unknown agent is a clear error, exit 2; no --actor is a usage error; an unknown ticket exit 1
    bad = helpline(desk.settings, "tickets", "reply", ticket.number, "--text", "x", "--actor", "nobody@example.com")
    assert bad.returncode == 2 and "not an active agent" in bad.stderr and "Traceback" not in bad.stderr
    assert helpline(desk.settings, "tickets", "note", ticket.number, "--text", "x").returncode == 2
    gone = helpline(desk.settings, "tickets", "reply", "HL-1999-000001", "--text", "x", "--actor", "ann@example.com")
    assert gone.returncode == 1 and "no ticket" in gone.stderr
    empty = helpline(desk.settings, "tickets", "note", ticket.number, "--text", "  ", "--actor", "ann@example.com")
    assert empty.returncode == 2 and "empty" in empty.stderr
    missing = helpline(
        desk.settings,
        "tickets",
        "reply",
        ticket.number,
        "--text",
        "x",
        "--file",
        str(tmp_path / "nope.pdf"),
        "--actor",
        "ann@example.com",
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert m.Message.select().where((m.Message.ticket == ticket) & (m.Message.author_role == "agent")).count() == 1


def test_the_actors_role_must_allow_it(backend, tmp_path, relay_sink):
    from helpline.store.db import run_tx

    from ..slack.test_slack_roles import second_line

    text = DESK_TOML.replace(
        'lead_email = "billing-lead@example.com"\n',
        'lead_email = "billing-lead@example.com"\nrestrict_second_line = true\n',
    ).replace('email = "ben@example.com"\n', 'email = "ben@example.com"\nrole = "senior"\n')
    s = backend.replace(
        config_file=write_config(tmp_path, text),
        smtp_relay=relay_sink.address,
        support_addresses=("support@example.com", "billing@example.com"),
    )
    assert helpline(s, "teams", "sync").returncode == 0
    ticket, _ = Desk(s).new_ticket(to="billing@example.com")
    run_tx(lambda: second_line(ticket))  # escalated to tier 2: the team keeps it to seniors
    for action in ("reply", "note"):
        out = helpline(s, "tickets", action, ticket.number, "--text", "x", "--actor", "ann@example.com")
        assert out.returncode == 1 and "You need the senior role" in out.stderr and "you are agent" in out.stderr
    assert m.Message.select().where((m.Message.ticket == ticket) & (m.Message.author_role == "agent")).count() == 0
    ok = helpline(s, "tickets", "reply", ticket.number, "--text", "On it.", "--actor", "ben@example.com")
    assert ok.returncode == 0, ok.stderr
