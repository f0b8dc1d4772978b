"""Slack with the routing issue's teams and agents (TOML file → migration 7 tables):
a team's own channel, configured agents acting in Slack, their load and availability,
and the SLA due time on the parent message."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from helpline.notifier.slack.slack_sender import channel_for_team
from helpline.store import models as m
from helpline.store.tickets import routing_state as rs
from helpline.store.db import run_tx

from .conftest import CHANNEL, parent_ts
from .test_slack_actions import press
from .test_slack_commands import slash
from .test_slack_replies import Team

CONFIGURED = "U0CONFIG1"  # not in HELPLINE_SLACK_AGENTS: the TOML file names them


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    fake_slack.add_user(CONFIGURED, "Casey Configured", "casey@support.example.com")
    rs.Agent.create(email="casey@support.example.com", name="Casey C.", slack_user=CONFIGURED, capacity=5)
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def test_a_team_posts_to_its_own_channel(team):
    rs.Team.create(name="billing", slack_channel="C0BILLING")
    assert channel_for_team(team.settings, "billing") == "C0BILLING"
    assert channel_for_team(team.settings, "shipping") == CHANNEL
    rs.Team.update(active=False).where(rs.Team.name == "billing").execute()
    assert channel_for_team(team.settings, "billing") == CHANNEL


def test_configured_agent_replies_takes_and_sets_availability(team):
    ticket, _ = team.customer_writes()
    _, (outcome,) = team.agent_says("Hello from Casey.", parent_ts(ticket.id), user=CONFIGURED)
    assert outcome.action == "replied" and "Hello from Casey." in team.sink.wait_for(2)[1].message().get_content()

    press(team, ticket, "take", user=CONFIGURED)
    assert m.Ticket.get_by_id(ticket.id).assignee == "casey@support.example.com"
    assert rs.Agent.get(rs.Agent.email == "casey@support.example.com").open_count == 1
    assert "Casey C." in json.dumps(team.slack.calls_of("chat.update")[-1].args["blocks"])
    assert ticket.number in slash(team, "mine", user=CONFIGURED)["text"]

    assert "*away*" in slash(team, "status away", user=CONFIGURED)["text"]
    assert rs.Agent.get(rs.Agent.email == "casey@support.example.com").availability == "away"


def test_parent_shows_the_nearest_open_sla_due_time(team):
    ticket, _ = team.customer_writes()
    due = dt.datetime(2026, 3, 2, 15, 0)
    now = m.utcnow()
    rs.TicketSla.delete().execute()  # whatever the default SLA policies planned: these clocks only
    run_tx(
        lambda: (
            rs.put_sla(ticket.id, "first_response", now, budget_s=3600.0, due_at=due),
            rs.put_sla(ticket.id, "resolution", now, budget_s=86400.0, due_at=due + dt.timedelta(days=1)),
        )
    )
    press(team, ticket, "priority", option="high")  # any change re-renders the parent
    blob = json.dumps(team.slack.calls_of("chat.update")[-1].args["blocks"])
    assert "SLA due" in blob and "2026-03-02 15:00 UTC" in blob


def test_queue_lists_the_nearest_sla_first(team):
    first, _ = team.customer_writes(subject="Old but relaxed")
    second, _ = team.customer_writes(subject="New but urgent", sender="Bob <bob@example.org>")
    third, _ = team.customer_writes(subject="No clock at all", sender="Cy <cy@example.org>")
    now = m.utcnow()
    rs.TicketSla.delete().execute()  # whatever the default SLA policies planned: these clocks only
    run_tx(
        lambda: (
            rs.put_sla(first.id, "first_response", now, budget_s=1.0, due_at=now + dt.timedelta(hours=8)),
            rs.put_sla(second.id, "first_response", now, budget_s=1.0, due_at=now + dt.timedelta(hours=1)),
        )
    )
    text = slash(team, "queue")["text"]
    assert text.index(second.number) < text.index(first.number) < text.index(third.number)
