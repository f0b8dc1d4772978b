"""The lifecycle: one table, refused transitions, the documented table, and the timers."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest

from helpline.router import lifecycle
from helpline.router.lifecycle import InvalidTransition
from helpline.store import models as m
from helpline.store.tickets import routing_state
from helpline.workers.tickets import ticket_ops
from helpline.workers.jobs import ticket_timers

from ..workers.builders import counts, mail, reload
from .conftest import event_data, in_tx

README = Path(__file__).resolve().parents[2] / "deploy" / "README.md"
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("current, target", list(itertools.product(lifecycle.STATUSES, repeat=2)))
def test_check_follows_the_table(current, target):
    if target in lifecycle.TRANSITIONS[current]:
        lifecycle.check(current, target)
    else:
        with pytest.raises(InvalidTransition):
            lifecycle.check(current, target, ticket="HL-2026-000001")


def test_refusals_say_what_is_allowed():
    with pytest.raises(
        InvalidTransition,
        match=r"ticket HL-2026-000007 cannot go from resolved to waiting_customer; "
        r"from resolved it can go to open, closed$",
    ):
        lifecycle.check("resolved", "waiting_customer", ticket="HL-2026-000007")
    with pytest.raises(InvalidTransition, match="is closed, which is final.*follow-up ticket"):
        lifecycle.check("closed", "open")
    with pytest.raises(InvalidTransition, match="'done' is not a status"):
        lifecycle.check("open", "done")
    assert lifecycle.allowed("new") == ("open", "in_progress", "waiting_customer", "resolved", "merged")


def test_the_documented_table_is_the_code():
    text = README.read_text()
    section = text[text.index("### Ticket lifecycle") :]
    rows = re.findall(r"^\| (\w+) \| ([^|]+) \|$", section, re.M)
    documented = {
        frm: frozenset() if to.strip() == "(final)" else frozenset(x.strip() for x in to.split(","))
        for frm, to in rows
        if frm != "from"
    }
    assert documented == lifecycle.TRANSITIONS


def test_customer_replies_move_tickets_through_the_lifecycle():
    assert lifecycle.on_customer_message("waiting_customer", reopen=False) == "open"
    assert lifecycle.on_customer_message("resolved", reopen=True) == "open"
    assert lifecycle.on_customer_message("resolved", reopen=False) is None
    assert lifecycle.on_customer_message("in_progress", reopen=False) is None


def status(desk, ticket_id: int, to: str, when: dt.datetime | None = None, actor: str = "agent") -> None:  # noqa: ANN001
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket_id), to, now=when or m.utcnow(), settings=desk.settings, actor=actor, reason="test"
        )
    )


def test_invalid_transitions_are_refused_and_change_nothing(routed):
    ticket, _ = routed.new_ticket(to="billing@example.com")
    status(routed, ticket.id, "resolved")
    status(routed, ticket.id, "closed")
    before = counts()
    for target in ("open", "resolved", "new", "waiting_customer"):
        with pytest.raises(InvalidTransition, match=f"ticket {ticket.number} is closed, which is final"):
            status(routed, ticket.id, target)
    assert counts() == before and reload(ticket).status == "closed"
    other, _ = routed.new_ticket(to="billing@example.com")
    with pytest.raises(InvalidTransition, match="cannot go from open to closed"):
        status(routed, other.id, "closed")
    assert reload(other).status == "open"


def test_a_reply_ends_waiting_on_the_customer(routed):
    ticket, mid = routed.new_ticket(to="billing@example.com")
    status(routed, ticket.id, "waiting_customer")
    raw, _ = mail(
        subject="Re: Order never arrived",
        in_reply_to=mid,
        references=[mid],
        to="billing@example.com",
        body="Here is my order number: 4711.\n",
    )
    assert routed.receive(raw, rcpt="billing@example.com").action == "appended"
    assert reload(ticket).status == "open"
    change = event_data(ticket, "status_changed")[-1]
    assert change == {"from": "waiting_customer", "to": "open", "reason": "customer replied"}
    assert (
        m.Event.select()
        .where((m.Event.ticket == ticket) & (m.Event.kind == "status_changed"))
        .order_by(m.Event.id.desc())
        .first()
        .actor
        == "customer"
    )


def test_resolved_tickets_close_after_the_configured_days(routed):
    s = routed.settings.replace(auto_close_days=3)
    ticket, _ = routed.new_ticket(to="billing@example.com")
    now = m.utcnow()
    status(routed, ticket.id, "resolved", now - 2 * DAY)
    assert ticket_timers.lifecycle_timers(s, clock=lambda: now)["closed"] == 0
    later = now + 1 * DAY + dt.timedelta(minutes=1)
    assert ticket_timers.lifecycle_timers(s, clock=lambda: later)["closed"] == 1
    assert ticket_timers.lifecycle_timers(s, clock=lambda: later)["closed"] == 0  # once
    ticket = reload(ticket)
    # closed when it fell due (resolved + 3 days), not when the tick came a minute later
    assert ticket.status == "closed" and ticket.closed_at == now + 1 * DAY
    assert event_data(ticket, "status_changed")[-1]["reason"] == "resolved more than 3 days ago"


def test_waiting_on_the_customer_reminds_once_then_resolves(routed):
    s = routed.settings.replace(waiting_reminder_days=2, waiting_resolve_days=5)
    ticket, customer_mid = routed.new_ticket(to="billing@example.com")
    start = m.utcnow()
    status(routed, ticket.id, "waiting_customer", start)
    assert ticket_timers.lifecycle_timers(s, clock=lambda: start + DAY) == {"closed": 0, "reminded": 0, "resolved": 0}
    assert ticket_timers.lifecycle_timers(s, clock=lambda: start + 2 * DAY)["reminded"] == 1
    assert ticket_timers.lifecycle_timers(s, clock=lambda: start + 3 * DAY)["reminded"] == 0  # once
    reminder = m.Outbox.get((m.Outbox.ticket == ticket) & (m.Outbox.kind == "reminder"))
    assert reminder.recipient == "alice@example.org"
    assert reminder.payload["in_reply_to"] == customer_mid and ticket.number in reminder.payload["subject"]
    assert "in 3 days" in reminder.payload["text"] and "Order" not in reminder.payload["text"]
    assert event_data(ticket, "waiting_reminder") == [{"sent": True, "channel": "email", "resolves_in_days": 3.0}]
    assert ticket_timers.lifecycle_timers(s, clock=lambda: start + 5 * DAY)["resolved"] == 1
    ticket = reload(ticket)
    assert ticket.status == "resolved" and ticket.assignee == "ann@example.com"
    assert event_data(ticket, "status_changed")[-1]["reason"] == "no answer from the customer for 5 days"
    assert routing_state.agent("ann@example.com").open_count == 0  # the load is released


def test_a_new_wait_gets_a_new_reminder(routed):
    s = routed.settings.replace(waiting_reminder_days=1, waiting_resolve_days=10)
    ticket, _ = routed.new_ticket(to="billing@example.com")
    start = m.utcnow()
    status(routed, ticket.id, "waiting_customer", start)
    ticket_timers.lifecycle_timers(s, clock=lambda: start + 2 * DAY)
    status(routed, ticket.id, "open", start + 2 * DAY)
    status(routed, ticket.id, "waiting_customer", start + 3 * DAY)
    assert ticket_timers.lifecycle_timers(s, clock=lambda: start + 4 * DAY)["reminded"] == 1
    assert len(event_data(ticket, "waiting_reminder")) == 2
