"""Routing and assignment through the real pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from helpline.store.tickets import routing_state
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.store.models import utcnow
from helpline.workers.tickets import ticket_ops

from ..workers.builders import event_kinds, mail, reload
from .conftest import agent_loads, event_data, in_tx, state


def test_a_new_ticket_is_routed_and_assigned_with_reasons(routed):
    ticket, _ = routed.new_ticket(to="billing@example.com", subject="Question about my invoice")
    ticket = reload(ticket)
    assert ticket.team == "billing" and ticket.assignee == "ann@example.com" and ticket.status == "open"
    (routed_event,) = event_data(ticket, "routed")
    assert routed_event["reason"] == "team 'billing' owns the address billing@example.com"
    (assigned,) = event_data(ticket, "assigned")
    assert assigned["strategy"] == "least_loaded" and assigned["reason"] == "least loaded: 0/2 open"
    assert event_data(ticket, "status_changed")[-1] == {
        "from": "new",
        "to": "open",
        "reason": "assigned to ann@example.com",
    }
    assert routing_state.agent("ann@example.com").open_count == 1
    # The next one goes to the less loaded agent (ben: 0/3 beats ann: 1/2).
    second, _ = routed.new_ticket(to="billing@example.com")
    assert reload(second).assignee == "ben@example.com"


def test_rules_and_the_default_team(routed):
    ticket, _ = routed.new_ticket(subject="VIP question")
    ticket = reload(ticket)
    assert ticket.priority == "high" and ticket.team == "tech"  # rule for priority, default team
    assert event_data(ticket, "priority_changed")[0] == {
        "from": "medium",
        "to": "high",
        "reason": "routing rule 'VIPs are high'",
    }
    assert event_data(ticket, "routed")[0]["rules"] == ["VIPs are high"]


def test_round_robin_takes_turns(routed):
    got = [reload(routed.new_ticket()[0]).assignee for _ in range(4)]
    assert got == ["tom@example.com", "tia@example.com", "tom@example.com", "tia@example.com"]


def test_skills_pick_the_best_match_for_the_language(routed):
    raw, _ = mail(to="experts@example.com")
    inbound = routed.deliver(raw, rcpt="experts@example.com")
    # The language of a message comes from the channel's metadata (webhook sources may send it).
    row = m.Inbound.get_by_id(inbound)
    row.envelope = {**row.envelope, "metadata": {"language": "de"}}
    row.save()
    ticket = reload(m.Ticket.get_by_id(routed.run(inbound).ticket_id))
    assert ticket.language == "de" and ticket.assignee == "eva@example.com"
    assert event_data(ticket, "assigned")[0]["reason"] == "skills: de 5; 0/10 open"


def test_nobody_available_leaves_the_ticket_in_the_queue_until_an_agent_is(routed):
    for email in ("ann@example.com", "ben@example.com"):
        run_tx(lambda email=email: routing_state.set_availability(email, "away", utcnow()))
    ticket, _ = routed.new_ticket(to="billing@example.com")
    ticket = reload(ticket)
    assert ticket.assignee is None and ticket.status == "new"
    (queued,) = event_data(ticket, "queued")
    assert queued["reason"] == "no agent available under capacity (2 away)"
    assert routing_state.list_teams()[0]["queued"] == 1
    assert ticket_ops.offer_queue(routed.settings) == 0  # still nobody: no new events either
    assert event_kinds(ticket).count("queued") == 1
    run_tx(lambda: routing_state.set_availability("ben@example.com", "available", utcnow()))
    assert ticket_ops.offer_queue(routed.settings) == 1
    ticket = reload(ticket)
    assert ticket.assignee == "ben@example.com" and ticket.status == "open"
    assert event_data(ticket, "assigned")[0]["why"] == "offered from the queue"
    assert routing_state.list_teams()[0]["queued"] == 0


def test_capacity_is_never_exceeded_and_a_freed_agent_takes_the_next(routed):
    run_tx(lambda: routing_state.set_availability("ben@example.com", "offline", utcnow()))
    first, second, third = (reload(routed.new_ticket(to="billing@example.com")[0]) for _ in range(3))
    assert [first.assignee, second.assignee, third.assignee] == ["ann@example.com", "ann@example.com", None]
    assert routing_state.agent("ann@example.com").open_count == 2
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(first.id), "resolved", now=utcnow(), settings=routed.settings, actor="test", reason="done"
        )
    )
    assert routing_state.agent("ann@example.com").open_count == 1
    assert ticket_ops.offer_queue(routed.settings) == 1
    assert reload(third).assignee == "ann@example.com"
    assert agent_loads()["ann@example.com"] == (2, 2)


def test_manual_assign_transfer_and_their_refusals(routed):
    ticket, _ = routed.new_ticket(to="billing@example.com")
    s = routed.settings

    def op(fn):  # noqa: ANN001, ANN202
        return in_tx(lambda: fn(ticket_ops.load(ticket.id), utcnow()))

    with pytest.raises(ticket_ops.TicketOpError, match="tom@example.com is not in team 'billing'.*transfer"):
        op(lambda t, now: ticket_ops.assign_to(t, "tom@example.com", now=now, settings=s, actor="cli:op"))
    with pytest.raises(ticket_ops.TicketOpError, match="no agent 'nobody@example.com'"):
        op(lambda t, now: ticket_ops.assign_to(t, "nobody@example.com", now=now, settings=s, actor="cli:op"))
    op(lambda t, now: ticket_ops.assign_to(t, "ben@example.com", now=now, settings=s, actor="cli:op", reason="VIP"))
    assert reload(ticket).assignee == "ben@example.com"
    assert event_data(ticket, "assigned")[-1] == {
        "agent": "ben@example.com",
        "previous": "ann@example.com",
        "team": "billing",
        "reason": "VIP",
    }
    assert agent_loads()["ann@example.com"] == (0, 0) and agent_loads()["ben@example.com"] == (1, 1)
    with pytest.raises(ticket_ops.TicketOpError, match="no team 'legal'"):
        op(lambda t, now: ticket_ops.transfer(t, "legal", now=now, settings=s, actor="cli:op"))
    op(lambda t, now: ticket_ops.transfer(t, "tech", now=now, settings=s, actor="cli:op", reason="not billing"))
    ticket = reload(ticket)
    assert ticket.team == "tech" and ticket.assignee == "tom@example.com"
    assert event_data(ticket, "transferred")[0] == {
        "from": "billing",
        "to": "tech",
        "reason": "not billing",
        "previous_agent": "ben@example.com",
    }
    actors = {
        e.actor
        for e in m.Event.select().where(
            (m.Event.ticket == ticket) & (m.Event.kind.in_(["assigned", "transferred", "unassigned"]))
        )
    }
    assert "cli:op" in actors
    # Forced beyond capacity is possible, and said so.
    run_tx(lambda: routing_state.set_availability("tia@example.com", "busy", utcnow()))
    with pytest.raises(ticket_ops.TicketOpError, match="tia@example.com is busy; use --force"):
        op(lambda t, now: ticket_ops.assign_to(t, "tia@example.com", now=now, settings=s, actor="cli:op"))
    op(lambda t, now: ticket_ops.assign_to(t, "tia@example.com", now=now, settings=s, actor="cli:op", force=True))
    assert event_data(ticket, "assigned")[-1]["forced"] == "busy"
    assert {k: v for k, v in agent_loads().items() if v[0] != v[1]} == {}


def test_a_reopened_ticket_goes_back_to_its_agent_or_to_the_queue(routed):
    ticket, mid = routed.new_ticket(to="billing@example.com")
    s = routed.settings
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id), "resolved", now=utcnow(), settings=s, actor="agent", reason="answered"
        )
    )
    assert routing_state.agent("ann@example.com").open_count == 0
    raw, _ = mail(subject="Re: Order never arrived", in_reply_to=mid, references=[mid], to="billing@example.com")
    assert routed.receive(raw, rcpt="billing@example.com").action == "reopened"
    ticket = reload(ticket)
    assert ticket.status == "open" and ticket.assignee == "ann@example.com" and ticket.resolved_at is None
    assert event_data(ticket, "assigned")[-1]["reason"] == "reopened: back to its agent"
    assert routing_state.agent("ann@example.com").open_count == 1
    # Resolved again, and ann is away when the customer writes back: the team's strategy picks ben.
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id), "resolved", now=utcnow(), settings=s, actor="agent", reason="answered"
        )
    )
    run_tx(lambda: routing_state.set_availability("ann@example.com", "away", utcnow()))
    raw, _ = mail(subject="Re: Order never arrived", in_reply_to=mid, references=[mid], to="billing@example.com")
    routed.receive(raw, rcpt="billing@example.com")
    ticket = reload(ticket)
    assert ticket.assignee == "ben@example.com"
    assert event_data(ticket, "unassigned")[-1]["reason"] == "reopened, but the agent is away"


def test_merge_moves_the_conversation(routed):
    first, mid1 = routed.new_ticket(to="billing@example.com")
    second, mid2 = routed.new_ticket(to="billing@example.com")
    s = routed.settings
    in_tx(
        lambda: ticket_ops.merge(
            ticket_ops.load(second.id),
            ticket_ops.load(first.id),
            now=utcnow(),
            settings=s,
            actor="cli:op",
            reason="same order",
        )
    )
    assert reload(second).status == "merged"
    assert event_data(first, "merged")[0] == {"from": second.number, "reason": "same order"}
    raw, _ = mail(subject="Re: Order never arrived", in_reply_to=mid2, references=[mid2], to="billing@example.com")
    out = routed.receive(raw, rcpt="billing@example.com")
    assert out.action == "appended" and out.ticket_id == first.id
    assert agent_loads()["ann@example.com"] == (1, 1) and agent_loads()["ben@example.com"] == (0, 0)


def test_without_a_configuration_file_nothing_is_assigned_and_default_slas_run(desk):
    ticket, _ = desk.new_ticket()
    ticket = reload(ticket)
    assert ticket.assignee is None and ticket.status == "new"
    # The category stage names a team only for unclassified tickets (the triage team); routing keeps it.
    (routed_event,) = event_data(ticket, "routed")
    assert routed_event["team"] == event_data(ticket, "category_set")[0].get("team") == ticket.team
    assert "queued" not in event_kinds(ticket)
    clocks = routing_state.sla_as_dict(ticket.id)["sla"]
    assert [(c["target"], c["policy"], c["calendar"], c["budget_s"]) for c in clocks] == [
        ("first_response", "default:medium", "always", 4 * 3600.0),
        ("resolution", "default:medium", "always", 24 * 3600.0),
    ]
    assert state(ticket.id).status == "new"
