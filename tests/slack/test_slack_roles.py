"""Roles in Slack: a click is refused, ephemerally and before anything is recorded, when the presser's role
does not reach the action (router/permissions.py). Through the real listener and pipeline, on both databases."""

from __future__ import annotations

from helpline.store import models as m
from helpline.store.tickets import routing_state as rs

from ..workers.builders import events
from .conftest import AGENT, AGENT2, inbound_count, parent_ts
from .test_slack_controls import assign_to, click, suggested, team  # noqa: F401  (the fixture)

DANA = "dana@support.example.com"


def configure(role: str = "", user: str = AGENT, email: str = DANA, lead_of: str = "") -> None:
    agent = rs.Agent.create(email=email, name="Dana Agent", slack_user=user, role=role)
    if lead_of:
        t = rs.Team.create(name=lead_of, lead_email=email)
        rs.TeamMember.create(team=t, agent=agent)


def second_line(ticket: m.Ticket) -> None:
    """As an escalation to tier 2 leaves it."""
    if rs.TicketRouting.get_or_none(rs.TicketRouting.ticket == ticket.id) is None:
        rs.TicketRouting.create(ticket=ticket.id, min_tier=2)
    rs.TicketRouting.update(min_tier=2).where(rs.TicketRouting.ticket == ticket.id).execute()


def test_a_first_line_agents_merge_click_is_refused_and_nothing_changes(team):
    first, second, ts = suggested(team)
    before_events, before_rows = [(e.kind, e.data) for e in events(second)], inbound_count()
    answer = click(
        team,
        second,
        {"type": "button", "action_id": f"helpline_ticket:merge:{first.number}", "value": second.number},
        message_ts=ts,
    )
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "senior role" in answer["text"] and "you are agent" in answer["text"]
    assert inbound_count() == before_rows  # not even recorded
    assert m.Ticket.get_by_id(second.id).status == "new"
    assert [(e.kind, e.data) for e in events(second)] == before_events


def test_a_configured_first_line_agent_may_take_but_not_assign_to_others(team):
    configure(role="agent")
    ticket, _ = team.customer_writes()
    answer = assign_to(team, ticket, AGENT2)
    assert "senior role" in answer["text"]
    assert m.Ticket.get_by_id(ticket.id).assignee is None
    assert click(team, ticket, {"type": "button", "action_id": "helpline_ticket:take", "value": ticket.number}) == {}
    assert m.Ticket.get_by_id(ticket.id).assignee == DANA  # acts as the agent whose slack_user it is


def test_a_team_lead_without_a_role_is_lead_on_the_teams_tickets(team):
    configure(lead_of="support")
    first, second, ts = suggested(team)
    m.Ticket.update(team="support").execute()
    click(
        team,
        second,
        {"type": "button", "action_id": f"helpline_ticket:merge:{first.number}", "value": second.number},
        message_ts=ts,
    )
    assert m.Ticket.get_by_id(second.id).status == "merged"


def test_a_lead_elsewhere_is_an_agent_here(team):
    configure(lead_of="billing")
    ticket, _ = team.customer_writes()
    m.Ticket.update(team="support").execute()
    assert "senior role" in assign_to(team, ticket, AGENT2)["text"]


def test_second_line_tickets_of_a_restricted_team_are_for_seniors(team):
    configure(role="agent")
    rs.Agent.create(email="sam@support.example.com", name="Sam", slack_user=AGENT2, role="senior")
    ticket, _ = team.customer_writes()
    rs.Team.create(name="support", restrict_second_line=True)
    m.Ticket.update(team="support").execute()
    second_line(ticket)
    resolve = {"type": "button", "action_id": "helpline_ticket:status:resolved", "value": ticket.number}
    answer = click(team, ticket, resolve)
    assert "senior role" in answer["text"] and "second-line" in answer["text"]
    assert m.Ticket.get_by_id(ticket.id).status == "new"
    assert click(team, ticket, resolve, user=AGENT2) == {}
    assert m.Ticket.get_by_id(ticket.id).status == "resolved"


def test_the_same_ticket_unrestricted_is_open_to_first_line(team):
    configure(role="agent")
    ticket, _ = team.customer_writes()
    rs.Team.create(name="support", restrict_second_line=False)
    m.Ticket.update(team="support").execute()
    second_line(ticket)
    click(team, ticket, {"type": "button", "action_id": "helpline_ticket:status:resolved", "value": ticket.number})
    assert m.Ticket.get_by_id(ticket.id).status == "resolved"


def test_a_first_line_agents_answer_on_a_restricted_second_line_ticket_is_not_taken(team):
    configure(role="agent")
    ticket, _ = team.customer_writes()
    rs.Team.create(name="support", restrict_second_line=True)
    m.Ticket.update(team="support").execute()
    second_line(ticket)
    before = (inbound_count(), m.Message.select().where(m.Message.ticket == ticket.id).count())
    team.agent_says("I can do this, refund coming.", parent_ts(ticket.id))
    assert (inbound_count(), m.Message.select().where(m.Message.ticket == ticket.id).count()) == before
    (told,) = [c.args for c in team.slack.calls_of("chat.postEphemeral") if c.args["user"] == AGENT]
    assert "Not recorded" in told["text"] and "senior role" in told["text"]
    rs.Agent.create(email="sam@support.example.com", name="Sam", slack_user=AGENT2, role="senior")
    team.agent_says("#note checked the refund", parent_ts(ticket.id), user=AGENT2)
    assert m.Message.select().where((m.Message.ticket == ticket.id) & (m.Message.direction == "note")).count() == 1
