"""Socket Mode (HELPLINE_SLACK_APP_TOKEN): Helpline opens a websocket to Slack and receives
the same events, actions and commands as over HTTP; the fake Slack plays Slack's side."""

from __future__ import annotations

import pytest

from helpline.store import models as m

from ..support.fake_slack import APP_TOKEN, event_callback
from .conftest import AGENT, CHANNEL, next_ts, parent_ts, thread_message
from .test_slack_replies import Team


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings.replace(slack_app_token=APP_TOKEN, slack_signing_secret=""), relay_sink, fake_slack)
    fake_slack.wait_for_socket()
    yield t
    t.close()


def test_agent_reply_over_socket_mode_reaches_the_customer_once(team):
    ticket, mid = team.customer_writes()
    assert (
        team.listener.post(b"{}", {"Content-Type": "application/json"})[0] == 404
    )  # no HTTP endpoint without a secret
    ts = next_ts()
    body = event_callback(thread_message("Sorted: your parcel is at the depot.", parent_ts(ticket.id), ts=ts))
    ack = team.slack.socket_send("events_api", body)
    assert "payload" not in ack or not ack["payload"]
    team.slack.socket_send("events_api", body, retry_attempt=1)  # Slack's redelivery
    outcomes = team.work()
    assert [o.action for o in outcomes] == ["replied"]
    reply = team.sink.wait_for(2)[1].message()
    assert reply["In-Reply-To"] == mid and "parcel is at the depot" in reply.get_content()
    assert m.Inbound.select().where(m.Inbound.channel == "slack").count() == 1
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]


def test_commands_and_buttons_over_socket_mode(team):
    ticket, _ = team.customer_writes()
    ack = team.slack.socket_send(
        "slash_commands",
        {
            "command": "/helpline",
            "text": "queue",
            "user_id": AGENT,
            "channel_id": CHANNEL,
            "team_id": "T0TEST",
            "response_url": team.slack.response_url("sm"),
        },
    )
    assert ticket.number in ack["payload"]["text"]
    parent = parent_ts(ticket.id)
    team.slack.socket_send(
        "interactive",
        {
            "type": "block_actions",
            "user": {"id": AGENT},
            "team": {"id": "T0TEST"},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": parent},
            "channel": {"id": CHANNEL},
            "response_url": team.slack.response_url("sm2"),
            "trigger_id": "1",
            "actions": [
                {
                    "type": "button",
                    "action_id": "helpline_ticket:status:resolved",
                    "value": ticket.number,
                    "block_id": f"helpline_ticket_actions:{ticket.number}",
                    "action_ts": next_ts(),
                }
            ],
        },
    )
    team.work()
    assert m.Ticket.get_by_id(ticket.id).status == "resolved"
