"""A Slack customer's new top-level message joins their open ticket within
HELPLINE_SLACK_JOIN_WINDOW_S unless it is clearly a new topic; on both databases."""

from __future__ import annotations

import datetime as dt

from helpline.router import similarity as sim
from helpline.store import models as m
from helpline.workers.inbound.slack_join import OpenTicket, new_topic

from . import test_slack_customers as _customers
from .test_slack_customers import customer_says

team = _customers.team  # the fixture, shared with test_slack_customers


def last_reason() -> str:
    return m.Inbound.select().order_by(m.Inbound.id.desc()).first().reason


def test_a_second_top_level_line_joins_the_open_ticket_and_its_thread_follows(team):
    _, (first,) = customer_says(team, "Our invoices page fails to load since this morning, error 500 every time.")
    second_root, (second,) = customer_says(team, "also the export button does nothing")
    assert first.action == "created" and (second.action, second.ticket_id) == ("appended", first.ticket_id)
    assert "within 1800s of the customer's last" in last_reason()
    _, (in_thread,) = customer_says(team, "here is a screenshot", thread_ts=second_root)  # its thread follows too
    assert in_thread.ticket_id == first.ticket_id and m.Ticket.select().count() == 1


def test_a_clearly_new_topic_opens_its_own_ticket(team):
    _, (first,) = customer_says(team, "Our invoices page fails to load since this morning, error 500 every time.")
    _, (other,) = customer_says(
        team,
        "Separate question: how do we add three new colleagues as admins "
        "to our workspace and give them billing permissions?",
    )
    assert other.action == "created" and other.ticket_id != first.ticket_id
    assert "new Slack topic, not joined to" in last_reason()


def test_outside_the_window_or_after_resolution_a_line_opens_a_ticket(team):
    _, (first,) = customer_says(team, "Our invoices page fails to load")
    m.Ticket.update(last_customer_at=m.utcnow() - dt.timedelta(seconds=1801)).execute()
    _, (late,) = customer_says(team, "still broken")
    assert late.action == "created" and late.ticket_id != first.ticket_id
    m.Ticket.update(status="resolved").where(m.Ticket.id == late.ticket_id).execute()
    _, (after,) = customer_says(team, "one more thing")
    assert after.action == "created" and after.ticket_id not in (first.ticket_id, late.ticket_id)


def test_a_window_of_zero_never_joins(team):
    team.desk.settings = team.settings = team.settings.replace(slack_join_window_s=0)
    _, (first,) = customer_says(team, "Our invoices page fails to load")
    _, (second,) = customer_says(team, "also the export")
    assert first.ticket_id != second.ticket_id


def test_only_strong_evidence_makes_a_new_topic():
    base = sim.fingerprint("Order 4711 never arrived, the tracking page shows nothing since Monday")
    ticket = OpenTicket(1, "HL-2026-1", base.signature, base.refs)
    assert new_topic(sim.fingerprint("Where is my parcel? Order 4711, still no delivery"), ticket) == ""
    assert "names 9001" in new_topic(sim.fingerprint("Also invoice 9001 shows the wrong amount"), ticket)
    assert new_topic(sim.fingerprint("also the colleague invites fail"), ticket) == ""  # short: a follow-up
    long_other = sim.fingerprint(
        "How do we add three new colleagues as admins with billing permissions to our company workspace?"
    )
    assert "sharing no words" in new_topic(long_other, ticket)
    assert new_topic(long_other, OpenTicket(1, "HL-2026-1", None, frozenset())) == ""  # nothing to compare: window
    assert new_topic(None, ticket) == ""
