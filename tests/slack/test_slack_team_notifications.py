"""SLA warnings, breaches and escalations (``team_notification`` events) reach
Slack: a line in the ticket's thread and one in the team's channel, once each."""
from __future__ import annotations

import pytest

from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers import notices, slack_outbox

from .conftest import CHANNEL, deliver_slack, parent_ts
from .test_slack_replies import Team


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def notify(ticket: m.Ticket, kind: str, text: str) -> None:
    run_tx(lambda: notices.team_notification(ticket.id, None, kind, text, m.utcnow(), {"target": "first_response"}))


def test_a_breach_is_posted_in_the_thread_and_the_channel_once(team):
    ticket, _ = team.customer_writes()
    before = len(team.slack.calls_of("chat.postMessage"))
    notify(ticket, "sla_breach", f"[{ticket.number}] SLA breached: first response due 2026-11-26 10:00 UTC <!channel>")
    assert slack_outbox.sweep_team_notifications(team.settings) == 1
    deliver_slack(team.settings)
    posts = team.slack.calls_of("chat.postMessage")[before:]
    assert len(posts) == 2
    in_thread = [p for p in posts if p.args.get("thread_ts") == parent_ts(ticket.id)]
    in_channel = [p for p in posts if not p.args.get("thread_ts")]
    assert len(in_thread) == 1 and len(in_channel) == 1 and in_channel[0].args["channel"] == CHANNEL
    text = in_channel[0].args["text"]
    assert "SLA breached" in text and ticket.number in text and "<!channel>" not in text  # escaped, no ping
    # the next sweep finds nothing new, and nothing is posted twice
    assert slack_outbox.sweep_team_notifications(team.settings) == 0
    deliver_slack(team.settings)
    assert len(team.slack.calls_of("chat.postMessage")) == before + 2


def test_without_any_channel_the_notice_is_recorded_not_retried(team):
    ticket, _ = team.customer_writes()
    settings = team.settings.replace(slack_channel="")
    m.Event.delete().where(m.Event.kind == "team_notification").execute()
    m.Outbox.delete().where(m.Outbox.kind == "slack_notice").execute()
    fastsql.execute('DELETE FROM "slack_thread" WHERE ticket_id = ?', [ticket.id])  # and no thread either
    notify(ticket, "sla_warning", f"[{ticket.number}] SLA warning")
    assert slack_outbox.sweep_team_notifications(settings) == 1
    row = m.Outbox.get(m.Outbox.unique_key.startswith("slack:notify:"))
    assert row.status == "suppressed" and "no Slack channel" in row.last_error
    assert slack_outbox.sweep_team_notifications(settings) == 0
