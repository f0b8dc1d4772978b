"""SLA clocks with a clock the test sets: business hours across a weekend, a pause
while waiting on the customer, each warning and breach fired once, re-planning,
escalation, and a reopened ticket's fresh target. On SQLite and PostgreSQL.

Tickets come in through the real pipeline; the test then starts their clocks at
a chosen instant (``sla_clock.start`` takes the time as an argument, as every
SLA function does) and runs the scheduler's job at chosen instants.
"""

from __future__ import annotations

import datetime as dt

from helpline.store.siteconfig import config_file
from helpline.store.tickets import routing_state
from helpline.store import models as m
from helpline.workers.tickets import routing_stage
from helpline.workers.tickets import sla_clock
from helpline.workers.tickets import ticket_ops
from helpline.workers.jobs import ticket_timers

from ..workers.builders import mail, reload
from .conftest import DESK_TOML, berlin, configured_desk, event_data, in_tx

ESCALATION = (
    DESK_TOML
    + """
[[escalation.rules]]
name = "high breaches go to tier 2"
when.event = "breach"
when.priority = ["high", "urgent"]
when.target = ["resolution"]
then.tier = 2
then.raise_priority = true
then.notify = ["lead", "team"]
"""
)


def start_clocks(desk, ticket_id: int, when: dt.datetime) -> None:  # noqa: ANN001
    cfg = config_file.site_config(desk.settings)
    in_tx(lambda: sla_clock.start(ticket_ops.load(ticket_id).facts(), when, cfg))


def fire(desk, when: dt.datetime) -> dict[str, int]:  # noqa: ANN001
    return ticket_timers.fire_sla(desk.settings, clock=lambda: when)


def clocks(ticket_id: int) -> dict[str, routing_state.SlaRow]:
    return {r.target: r for r in routing_state.sla_rows(ticket_id)}


def billing_ticket(desk, subject: str = "Invoice question") -> m.Ticket:  # noqa: ANN001
    raw, _ = mail(to="billing@example.com", subject=subject)
    return m.Ticket.get_by_id(desk.receive(raw, rcpt="billing@example.com").ticket_id)


def notifications() -> list[m.Outbox]:
    return list(m.Outbox.select().where(m.Outbox.kind == "notification").order_by(m.Outbox.id))


def test_business_hours_across_a_weekend(backend, tmp_path):
    desk = configured_desk(backend, tmp_path)
    ticket = billing_ticket(desk, "Urgent: invoice question")  # "urgent" makes it high: 1h / 8h
    assert reload(ticket).priority == "high"
    start_clocks(desk, ticket.id, berlin(2026, 3, 6, 16, 30))  # Friday 16:30, the office closes at 17:00
    c = clocks(ticket.id)
    assert c["first_response"].warn_at == berlin(2026, 3, 9, 9, 15)  # 30 min Friday + 15 min Monday = 75 % of 1h
    assert c["first_response"].due_at == berlin(2026, 3, 9, 9, 30)
    assert c["resolution"].warn_at == berlin(2026, 3, 9, 14, 30)  # 6h of 8h
    assert c["resolution"].due_at == berlin(2026, 3, 9, 16, 30)

    for quiet in (berlin(2026, 3, 6, 16, 59), berlin(2026, 3, 7, 12, 0), berlin(2026, 3, 9, 9, 14)):
        assert fire(desk, quiet) == {"warning": 0, "breach": 0}
    assert fire(desk, berlin(2026, 3, 9, 9, 16)) == {"warning": 1, "breach": 0}
    assert fire(desk, berlin(2026, 3, 9, 9, 20)) == {"warning": 0, "breach": 0}  # once
    assert fire(desk, berlin(2026, 3, 9, 9, 31)) == {"warning": 0, "breach": 1}
    assert fire(desk, berlin(2026, 3, 9, 14, 31)) == {"warning": 1, "breach": 0}
    # The scheduler was down from 16:00 until 18:00: the breach fires when it is back, once.
    assert fire(desk, berlin(2026, 3, 9, 18, 0)) == {"warning": 0, "breach": 1}
    assert fire(desk, berlin(2026, 3, 9, 18, 1)) == {"warning": 0, "breach": 0}

    warnings, breaches = event_data(ticket, "sla_warning"), event_data(ticket, "sla_breach")
    assert [w["target"] for w in warnings] == ["first_response", "resolution"]
    assert [b["target"] for b in breaches] == ["first_response", "resolution"]
    assert breaches[0]["slack_channel"] == "C0BILLING" and breaches[0]["assignee"] == "ann@example.com"
    hooks = event_data(ticket, "team_notification")
    assert [h["kind"] for h in hooks] == ["sla_warning", "sla_breach", "sla_warning", "sla_breach"]
    assert hooks[1]["text"].startswith(f"[{ticket.number}] SLA breached: first response due 2026-03-09 09:30")
    # Email to the team lead; the one fired at 18:00 waits until the office opens on Tuesday.
    mails = notifications()
    assert [n.recipient for n in mails] == ["billing-lead@example.com"] * 4
    assert mails[0].next_attempt_at <= m.utcnow()  # inside office hours: sent at once
    assert mails[3].next_attempt_at == berlin(2026, 3, 10, 9, 0)
    assert event_data(ticket, "notification_queued")[3]["held_until"].startswith("2026-03-10T08:00:00")
    assert mails[1].payload["headers"]["Auto-Submitted"] == "auto-generated"


def test_the_clock_pauses_while_waiting_on_the_customer(backend, tmp_path):
    desk = configured_desk(backend, tmp_path)
    ticket = billing_ticket(desk)  # medium: 4h first response, 24h resolution, office hours 09-17
    s = desk.settings
    start_clocks(desk, ticket.id, berlin(2026, 3, 9, 10, 0))  # Monday 10:00
    assert clocks(ticket.id)["resolution"].due_at == berlin(2026, 3, 12, 10, 0)  # 7h + 8h + 8h + 1h

    in_tx(lambda: routing_stage.on_agent_reply(ticket.id, "slack:U1", s, berlin(2026, 3, 9, 10, 30)))
    assert clocks(ticket.id)["first_response"].outcome == "met"
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id),
            "waiting_customer",
            now=berlin(2026, 3, 9, 12, 0),
            settings=s,
            actor="agent",
            reason="asked for the order number",
        )
    )
    paused = clocks(ticket.id)["resolution"]
    assert paused.clock_from is None and paused.due_at is None and paused.consumed_s == 2 * 3600
    # Thursday 10:00 would have been the deadline without the pause: nothing fires.
    assert fire(desk, berlin(2026, 3, 12, 11, 0)) == {"warning": 0, "breach": 0}

    # The customer answers on Friday 10:00: 22h are left, counted from then.
    in_tx(lambda: routing_stage.on_customer_message(ticket.id, False, "", s, berlin(2026, 3, 13, 10, 0)))
    assert reload(ticket).status == "open"
    resumed = clocks(ticket.id)["resolution"]
    assert resumed.clock_from == berlin(2026, 3, 13, 10, 0)
    assert resumed.due_at == berlin(2026, 3, 17, 16, 0)  # Fri 7h + Mon 8h + Tue 7h
    assert resumed.warn_at == berlin(2026, 3, 17, 10, 0)  # 18h of 24h: 16h after the 2h used
    assert [e["targets"] for e in event_data(ticket, "sla_paused")] == [["resolution"]]
    assert event_data(ticket, "sla_resumed")[0]["due"]["resolution"].startswith("2026-03-17T15:00:00")
    assert fire(desk, berlin(2026, 3, 16, 17, 0)) == {"warning": 0, "breach": 0}
    assert fire(desk, berlin(2026, 3, 17, 10, 1)) == {"warning": 1, "breach": 0}
    assert fire(desk, berlin(2026, 3, 17, 16, 1)) == {"warning": 0, "breach": 1}
    # Resolved late: the clock stops as missed.
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id),
            "resolved",
            now=berlin(2026, 3, 17, 16, 30),
            settings=s,
            actor="agent",
            reason="fixed",
        )
    )
    assert clocks(ticket.id)["resolution"].outcome == "missed"


def test_a_change_of_priority_replans_and_fired_stays_fired(backend, tmp_path):
    desk = configured_desk(backend, tmp_path)
    ticket = billing_ticket(desk)  # medium
    s = desk.settings
    start_clocks(desk, ticket.id, berlin(2026, 3, 9, 9, 0))
    in_tx(lambda: routing_stage.on_agent_reply(ticket.id, "agent", s, berlin(2026, 3, 9, 9, 5)))
    # 18h of 24h: Monday, Tuesday and 2h of Wednesday.
    assert fire(desk, berlin(2026, 3, 11, 11, 1)) == {"warning": 1, "breach": 0}
    # Lowered to low (48h): the warning moves to 36h, ahead of now, and will fire again there.
    in_tx(
        lambda: ticket_ops.set_priority(
            ticket_ops.load(ticket.id),
            "low",
            now=berlin(2026, 3, 11, 12, 0),
            settings=s,
            actor="agent",
            reason="not so pressing",
        )
    )
    low = clocks(ticket.id)["resolution"]
    assert low.policy == "default:low" and low.warned_at is None
    assert low.warn_at == berlin(2026, 3, 13, 13, 0)  # 19h used; 17h more: Wed 5h, Thu 8h, Fri 4h
    assert fire(desk, berlin(2026, 3, 13, 12, 59)) == {"warning": 0, "breach": 0}
    assert fire(desk, berlin(2026, 3, 13, 13, 0)) == {"warning": 1, "breach": 0}
    # Raised to urgent (2h): long overdue. The breach fires once; the warning had fired already.
    in_tx(
        lambda: ticket_ops.set_priority(
            ticket_ops.load(ticket.id),
            "urgent",
            now=berlin(2026, 3, 13, 14, 0),
            settings=s,
            actor="agent",
            reason="customer escalated",
        )
    )
    urgent = clocks(ticket.id)["resolution"]
    assert urgent.due_at == urgent.warn_at == berlin(2026, 3, 13, 14, 0) and urgent.warned_at is not None
    assert fire(desk, berlin(2026, 3, 13, 14, 1)) == {"warning": 0, "breach": 1}
    assert fire(desk, berlin(2026, 3, 13, 14, 2)) == {"warning": 0, "breach": 0}
    assert len(event_data(ticket, "sla_warning")) == 2 and len(event_data(ticket, "sla_breach")) == 1
    assert [e["policy"] for e in event_data(ticket, "sla_replanned")] == ["default:low", "default:urgent"]


def test_escalation_on_breach_reassigns_to_a_higher_tier_and_notifies(backend, tmp_path):
    desk = configured_desk(backend, tmp_path, ESCALATION)
    s = desk.settings
    ticket = billing_ticket(desk, "Urgent: invoice question")  # high, assigned to ann (tier 1)
    assert reload(ticket).assignee == "ann@example.com"
    start_clocks(desk, ticket.id, berlin(2026, 3, 9, 9, 0))
    in_tx(lambda: routing_stage.on_agent_reply(ticket.id, "agent", s, berlin(2026, 3, 9, 9, 10)))
    assert fire(desk, berlin(2026, 3, 9, 15, 1)) == {"warning": 1, "breach": 0}  # 6h: no escalation on warnings
    assert reload(ticket).assignee == "ann@example.com"
    assert fire(desk, berlin(2026, 3, 9, 17, 0)) == {"warning": 0, "breach": 1}  # 8h: Monday 17:00
    ticket = reload(ticket)
    assert ticket.assignee == "ben@example.com" and ticket.priority == "urgent"
    steps = {e["step"]: e for e in event_data(ticket, "escalated")}
    assert steps["priority"] == {
        "step": "priority",
        "from": "high",
        "to": "urgent",
        "rules": ["high breaches go to tier 2"],
    }
    assert steps["tier"]["from"] == "ann@example.com" and steps["tier"]["agent"] == "ben@example.com"
    assert {e["who"] for e in event_data(ticket, "escalated") if e["step"] == "notify"} == {"lead", "team"}
    assert {e.actor for e in m.Event.select().where((m.Event.ticket == ticket) & (m.Event.kind == "escalated"))} == {
        "escalation"
    }
    assert [h["kind"] for h in event_data(ticket, "team_notification")][-1] == "escalation"
    assert [n.payload["subject"].split("]")[1].strip()[:9] for n in notifications()] == [
        "SLA warni",
        "SLA breac",
        "escalated",
    ]
    loads = {a["email"]: a["open"] for a in routing_state.list_agents("billing")}
    assert loads == {"ann@example.com": 0, "ben@example.com": 1}
    # Escalation ran once: later ticks change nothing.
    assert fire(desk, berlin(2026, 3, 10, 12, 0)) == {"warning": 0, "breach": 0}
    assert len([e for e in event_data(ticket, "escalated") if e["step"] == "tier"]) == 1


def test_a_reopened_ticket_gets_a_fresh_next_response_target(backend, tmp_path):
    desk = configured_desk(backend, tmp_path)
    s = desk.settings
    raw, mid = mail(to="billing@example.com")
    ticket = m.Ticket.get_by_id(desk.receive(raw, rcpt="billing@example.com").ticket_id)
    long_ago = m.utcnow() - dt.timedelta(days=10)
    start_clocks(desk, ticket.id, long_ago)  # its targets lie in the past
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id), "resolved", now=m.utcnow(), settings=s, actor="agent", reason="done"
        )
    )
    assert clocks(ticket.id)["resolution"].outcome == "missed"
    raw, _ = mail(subject="Re: Order never arrived", in_reply_to=mid, references=[mid], to="billing@example.com")
    assert desk.receive(raw, rcpt="billing@example.com").action == "reopened"
    c = clocks(ticket.id)
    assert c["next_response"].stopped_at is None and c["next_response"].breached_at is None
    first_response, _ = config_file.DEFAULT_SLA[reload(ticket).priority]
    assert c["next_response"].budget_s == first_response.total_seconds() and c["resolution"].stopped_at is None
    assert fire(desk, m.utcnow()) == {"warning": 0, "breach": 0}  # not escalating at once
    assert event_data(ticket, "sla_started")[-1]["reason"] == "reopened"


def test_a_reply_recorded_elsewhere_stops_the_clock_instead_of_a_warning(backend, tmp_path):
    desk = configured_desk(backend, tmp_path)
    ticket = billing_ticket(desk)
    start_clocks(desk, ticket.id, berlin(2026, 3, 9, 9, 0))
    # An agent's reply written by a path that does not know the clocks (an API, another channel).
    in_tx(
        lambda: m.Message.create(
            ticket=ticket.id,
            direction="out",
            author_role="agent",
            channel="email",
            created_at=berlin(2026, 3, 9, 10, 0),
            text="On it.",
        )
    )
    assert fire(desk, berlin(2026, 3, 9, 12, 30)) == {"warning": 0, "breach": 0}
    first = clocks(ticket.id)["first_response"]
    assert first.outcome == "met" and first.stopped_at == berlin(2026, 3, 9, 10, 0)
    assert event_data(ticket, "sla_warning") == []


def test_policies_from_the_file_by_tier_and_team(backend, tmp_path):
    text = (
        DESK_TOML
        + """
[sla.policies.billing_office]
team = ["billing"]
first_response = "2h"
resolution = "16h"

[sla.policies.gold]
customer_tier = ["gold"]
business_hours = "office"
first_response = "30m"
resolution = "4h"
warn_at = 0.5
"""
    )
    desk = configured_desk(backend, tmp_path, text)
    ticket = billing_ticket(desk)
    assert {r.target: (r.policy, r.budget_s, r.calendar) for r in routing_state.sla_rows(ticket.id)} == {
        "first_response": ("billing_office", 7200.0, "office"),
        "resolution": ("billing_office", 57600.0, "office"),
    }
    m.Customer.update(tier="gold").where(m.Customer.id == ticket.customer_id).execute()
    in_tx(
        lambda: sla_clock.replan(
            ticket_ops.load(ticket.id).facts(),
            berlin(2026, 3, 9, 9, 0),
            config_file.site_config(desk.settings),
            reason="customer tier gold",
        )
    )
    gold = clocks(ticket.id)["resolution"]
    assert (gold.policy, gold.budget_s, gold.warn_fraction) == ("gold", 4 * 3600.0, 0.5)


def test_a_status_written_elsewhere_never_breaches(backend, tmp_path):
    """Another path (a Slack button) that writes the status without the clocks: the scheduler
    settles the clocks instead of firing: resolved stops them, waiting pauses them."""
    desk = configured_desk(backend, tmp_path)
    resolved, waiting = billing_ticket(desk), billing_ticket(desk)
    for t in (resolved, waiting):
        start_clocks(desk, t.id, berlin(2026, 3, 9, 9, 0))
    m.Ticket.update(status="resolved", resolved_at=berlin(2026, 3, 9, 11, 0)).where(
        m.Ticket.id == resolved.id
    ).execute()
    m.Ticket.update(status="waiting_customer").where(m.Ticket.id == waiting.id).execute()
    assert fire(desk, berlin(2026, 3, 20, 9, 0)) == {"warning": 0, "breach": 0}
    c = clocks(resolved.id)
    assert c["resolution"].outcome == "met" and c["resolution"].consumed_s == 2 * 3600
    assert c["first_response"].outcome == "cancelled"
    assert all(r.clock_from is None and r.stopped_at is None for r in clocks(waiting.id).values())
    assert event_data(resolved, "sla_breach") == [] and event_data(waiting, "sla_warning") == []


def test_escalation_can_move_a_ticket_to_another_team(backend, tmp_path):
    text = (
        DESK_TOML
        + """
[[escalation.rules]]
name = "slow first answers go to tech"
when.event = "warning"
when.target = ["first_response"]
when.team = ["billing"]
then.team = "tech"
"""
    )
    desk = configured_desk(backend, tmp_path, text)
    ticket = billing_ticket(desk)
    start_clocks(desk, ticket.id, berlin(2026, 3, 9, 9, 0))
    assert fire(desk, berlin(2026, 3, 9, 12, 1)) == {"warning": 1, "breach": 0}  # 3h of 4h
    ticket = reload(ticket)
    assert ticket.team == "tech" and ticket.assignee == "tom@example.com"
    (step,) = [e for e in event_data(ticket, "escalated") if e["step"] == "team"]
    assert (step["from"], step["to"], step["agent"]) == ("billing", "tech", "tom@example.com")
    assert event_data(ticket, "transferred")[0]["previous_agent"] == "ann@example.com"
    # tech has no calendar: the clocks now count around the clock, with what was used kept.
    first = clocks(ticket.id)["first_response"]
    assert first.calendar == "always" and first.consumed_s == 3 * 3600 + 60
    assert {a["email"]: a["open"] for a in routing_state.list_agents()}["ann@example.com"] == 0
