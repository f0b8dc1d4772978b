"""Retention over imported history: a conversation from years ago counts its age from its own dates,
not from the day it was imported (issue 14: imported history must not outlive the desk's policy)."""

from __future__ import annotations

import datetime as dt

from helpline.ingest.importer import run
from helpline.store import models as m
from helpline.workers.jobs import retention_job, ticket_timers

from . import make_mbox


def test_old_imported_conversations_close_at_their_due_date_and_retention_takes_them(backend, tmp_path):
    box = tmp_path / "history.mbox"
    start = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
    make_mbox.generate(str(box), 40, seed=11, duplicates=0, broken=0, start=start)
    run.run_import("mbox", str(box), backend, jobs=1)
    tickets = list(m.Ticket.select())
    assert tickets and {t.status for t in tickets} == {"resolved"}
    newest = max(t.resolved_at for t in tickets)
    assert newest < dt.datetime(2025, 1, 1)  # resolved at the conversation's last message

    assert ticket_timers.lifecycle_timers(backend)["closed"] == len(tickets)
    for t in m.Ticket.select():
        assert t.status == "closed"
        # due auto_close_days after it was resolved: long ago, not today
        assert t.closed_at == t.resolved_at + dt.timedelta(days=backend.auto_close_days)

    cfg = tmp_path / "helpline.toml"
    cfg.write_text('[[retention.policies]]\nclosed_ticket_days = 365\nclosed_ticket_action = "anonymise"\n')
    settings = backend.replace(config_file=str(cfg))
    result = retention_job.run_once(settings)
    assert result["counts"].get("closed_tickets") == len(tickets), result
    assert all(msg.text == "" for msg in m.Message.select())  # anonymised: the policy's year has long passed
