"""``helpline import mbox``: threads, duplicates, broken messages, an interruption, nothing sent."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

from helpline.ingest.importer import run
from helpline.store import fastsql
from helpline.store import models as m

from . import make_mbox
from .helpers import counts, helpline


def _expected(made: dict[str, int]) -> dict[str, int]:
    return {"tickets": made["new"], "messages": made["new"] + made["reply"]}


def test_mbox_threads_duplicates_broken_and_nothing_sent(slack_settings, fake_slack, tmp_path):
    box = tmp_path / "history.mbox"
    made = make_mbox.generate(str(box), 300, seed=3, duplicates=0.04, broken=0.02)
    assert made["duplicate"] and made["broken"] and made["reply"]
    report = run.run_import("mbox", str(box), slack_settings, batch_size=40, jobs=2)
    got = counts()
    assert {k: got[k] for k in ("tickets", "messages")} == _expected(made)
    assert report.actions.get("unreadable") == made["broken"] == len(report.unreadable)
    assert all("not an email" in why for _, why in report.unreadable)
    assert report.actions.get("already_imported") == made["duplicate"]
    # nothing sent, nothing queued to send: no ack, no Slack post, no webhook event
    assert got["outbox"] == 0
    assert fake_slack.calls_of("chat.postMessage") == []
    # no SLA clock; every conversation resolved (no --open-since)
    assert fastsql.fetchone('SELECT COUNT(*) FROM "ticket_sla"')[0] == 0
    assert m.Event.select().where(m.Event.kind == "sla_started").count() == 0
    assert {t.status for t in m.Ticket.select()} == {"resolved"}
    # imported rows and tickets are marked
    assert m.Inbound.select().where(~m.Inbound.source_host.startswith("import:")).count() == 0
    assert m.Event.select().where(m.Event.kind == "ticket_imported").count() == made["new"]
    # the history's own dates, not the import's
    assert max(t.created_at for t in m.Ticket.select()) < dt.datetime(2025, 2, 1)
    # a second run duplicates nothing
    again = run.run_import("mbox", str(box), slack_settings, restart=True, jobs=2)
    assert {k: counts()[k] for k in ("tickets", "messages", "inbound")} == {
        k: got[k] for k in ("tickets", "messages", "inbound")
    }
    assert again.actions.get("created", 0) == 0 and again.actions.get("appended", 0) == 0


def test_open_since_keeps_recent_conversations_open(backend, tmp_path):
    box = tmp_path / "history.mbox"
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    make_mbox.generate(str(box), 120, seed=5, duplicates=0, broken=0, start=start)  # spread over three years
    cut = dt.datetime(2025, 6, 1)
    run.run_import("mbox", str(box), backend, open_since=cut, jobs=2)
    tickets = list(m.Ticket.select())
    assert tickets
    for t in tickets:
        if t.last_customer_at > cut:
            assert t.status not in ("resolved", "closed"), (t.number, t.last_customer_at)
        else:
            assert t.status == "resolved", (t.number, t.last_customer_at)
    assert any(t.status == "resolved" for t in tickets) and any(t.status != "resolved" for t in tickets)
    assert m.Outbox.select().count() == 0


def test_dry_run_writes_nothing(backend, tmp_path):
    box = tmp_path / "history.mbox"
    made = make_mbox.generate(str(box), 80, seed=9, duplicates=0, broken=0.05)
    report = run.run_import("mbox", str(box), backend, dry_run=True, jobs=2)
    assert counts() == {"tickets": 0, "messages": 0, "inbound": 0, "outbox": 0}
    assert report.read == made["messages"]
    assert report.actions.get("created", 0) >= made["new"] - made["broken"]
    assert len(report.unreadable) == made["broken"]


def test_killed_halfway_and_run_again_duplicates_nothing(backend, tmp_path):
    box = tmp_path / "history.mbox"
    made = make_mbox.generate(str(box), 500, seed=11, duplicates=0.02, broken=0.01)
    proc = helpline("import", "mbox", str(box), "--batch-size", "20", "--jobs", "2", "--no-progress", settings=backend)
    deadline = time.monotonic() + 240
    while m.Inbound.select().count() < 120:  # a good part written, far from all of it
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the import wrote too little in time"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    halfway = counts()
    assert 0 < halfway["messages"] < _expected(made)["messages"]
    again = helpline("import", "mbox", str(box), "--no-progress", "--json", settings=backend)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err.decode()[-3000:]
    report = json.loads(out)
    assert report["resumed_from"], "the second run did not start from the checkpoint"
    final = counts()
    assert {k: final[k] for k in ("tickets", "messages")} == _expected(made)
    assert final["outbox"] == 0
    assert {t.status for t in m.Ticket.select()} == {"resolved"}


def test_concurrent_writers_keep_conversations_together_and_counts_exact(backend, tmp_path):
    """Three writers at once (the split by conversation root): every reply still lands on its ticket,
    the counts match the generator's, and a rerun adds nothing."""
    box = tmp_path / "history.mbox"
    made = make_mbox.generate(str(box), 240, seed=11, duplicates=0.03, broken=0.01)
    report = run.run_import("mbox", str(box), backend, batch_size=60, jobs=2, writers=3)
    got = counts()
    assert {k: got[k] for k in ("tickets", "messages")} == _expected(made)
    assert report.actions.get("created") == made["new"] and report.actions.get("appended") == made["reply"]
    again = run.run_import("mbox", str(box), backend, restart=True, jobs=2, writers=3)
    assert {k: counts()[k] for k in ("tickets", "messages", "inbound")} == {
        k: got[k] for k in ("tickets", "messages", "inbound")
    }
    assert again.actions.get("created", 0) == 0 and again.actions.get("appended", 0) == 0
