"""Status notices, surveys and reminders to senders authentication did not vouch for (issue 12, stop 12's weak item).

The acknowledgement already refused to echo the subject to an address nobody vouched for and went quiet for a
From that failed DMARC (test_ack_backscatter.py); the later automatic notices did neither, so a forged sender
could open a ticket in a victim's name and have us mail its subject when an agent resolved it. On SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.store import models as m
from helpline.workers.tickets import customer_notices, ticket_ops
from tests.routing.conftest import in_tx
from tests.security.test_ack_backscatter import FAIL, MX, PASS  # the same trusted MTA's verdicts
from tests.workers.builders import Desk, events, mail

SUBJECT = "Your invoice 88231 for the kidney clinic"


@pytest.fixture
def desk(backend) -> Desk:
    return Desk(backend.replace(trusted_authserv_id=MX, notify_statuses=("resolved", "waiting_customer")))


def _receive(desk: Desk, *auth: str, headers: dict | None = None) -> m.Ticket:
    raw, _ = mail(subject=SUBJECT, headers=headers)
    outcome = desk.receive("".join(f"Authentication-Results: {h}\r\n" for h in auth).encode() + raw)
    assert outcome.action == "created"
    return m.Ticket.get_by_id(outcome.ticket_id)


def _status(desk: Desk, ticket: m.Ticket, to: str) -> None:
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id), to, now=m.utcnow(), settings=desk.settings, actor="agent", reason="test"
        )
    )


def _sent(ticket: m.Ticket, *kinds: str) -> list[m.Outbox]:
    return list(m.Outbox.select().where((m.Outbox.ticket == ticket) & (m.Outbox.kind.in_(kinds))))


def _shown(row: m.Outbox) -> str:
    return row.payload["subject"] + "\n" + row.payload["text"] + "\n" + row.payload.get("html", "")


def test_failed_sender_gets_no_status_notice_and_no_survey(desk):
    ticket = _receive(desk, FAIL)
    _status(desk, ticket, "resolved")
    assert _sent(ticket, "notification", "csat") == []
    [ev] = events(ticket, "customer_notice_suppressed")
    assert ev.data["reason"].startswith("sender_auth_failed") and ev.data["status"] == "resolved"


def test_failed_sender_gets_no_waiting_reminder(desk):
    ticket = _receive(desk, FAIL)
    t = ticket_ops.load(ticket.id)
    out_id, channel, why = in_tx(
        lambda: customer_notices.waiting_reminder(t, 2, now=m.utcnow(), settings=desk.settings)
    )
    assert out_id is None and why.startswith("sender_auth_failed")
    assert _sent(ticket, "reminder") == []


def test_unauthenticated_sender_gets_notices_without_subject_or_name(desk):
    ticket = _receive(desk)  # no Authentication-Results: nothing vouches for alice@example.org
    _status(desk, ticket, "waiting_customer")
    t = ticket_ops.load(ticket.id)
    in_tx(
        lambda: customer_notices.waiting_reminder(
            t, 2, now=m.utcnow() + dt.timedelta(seconds=1), settings=desk.settings
        )
    )
    _status(desk, ticket, "open")
    _status(desk, ticket, "resolved")
    rows = _sent(ticket, "notification", "csat", "reminder")
    assert {r.kind for r in rows} == {"notification", "csat", "reminder"}
    for row in rows:
        shown = _shown(row)
        assert "kidney" not in shown and "88231" not in shown and "Alice" not in shown, row.kind
        assert ticket.number in row.payload["subject"]


def test_reply_to_an_outsider_gets_no_subject_even_when_from_passed(desk):
    ticket = _receive(desk, PASS, headers={"Reply-To": "victim@elsewhere.example"})
    _status(desk, ticket, "resolved")
    [notice] = _sent(ticket, "notification")
    assert notice.recipient == "victim@elsewhere.example"
    assert "kidney" not in _shown(notice) and "Alice" not in _shown(notice)


def test_authenticated_sender_still_gets_their_subject(desk):
    ticket = _receive(desk, PASS)
    _status(desk, ticket, "resolved")
    [notice] = _sent(ticket, "notification")
    assert notice.recipient == "alice@example.org"
    assert SUBJECT in notice.payload["subject"] and "Hello Alice" in notice.payload["text"]
