"""A macro applied from Slack (the parent's Macro menu and /helpline macro): reply through the Slack reply
path with its undo window, actions done, audited; on both databases through the real listener."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from helpline.store import models as m

from ..slack.conftest import AGENT, CHANNEL, parent_ts
from ..slack.test_slack_replies import Team
from ..support.fake_slack import TEAM, signed_headers
from ..workers.builders import events
from .helpers import run_sync, write

MACRO = (
    "---\nname: thanks\nactions: {status: waiting_customer, tags: [polite]}\n---\n"
    "Thanks {{ customer_name }}, {{ agent_name }} here about {{ ticket_number }}.\n"
)


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack, tmp_path):
    write(tmp_path / "kb", "macros/thanks.md", MACRO)
    t = Team(slack_settings.replace(slack_undo_seconds=30.0), relay_sink, fake_slack)
    run_sync(t.settings, tmp_path / "kb")
    yield t
    t.close()


def post(team: Team, payload: dict) -> None:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert status == 200
    team.work()


def test_macro_from_the_parent_menu_waits_out_the_undo_window(team):
    ticket, _ = team.customer_writes(subject="Hello", sender="Alice Example <alice@example.org>")
    parent = team.slack.calls_of("chat.postMessage")[0].args
    menu = [
        e
        for b in parent["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("action_id") == "helpline_kb:macro"
    ]
    assert [o["value"] for o in menu[0]["options"]] == ["thanks"]
    post(
        team,
        {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": AGENT, "team_id": TEAM},
            "api_app_id": "A0HELPLINE",
            "trigger_id": "1.2.3",
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": parent_ts(ticket.id)},
            "response_url": team.slack.response_url("m1"),
            "actions": [
                {
                    "type": "static_select",
                    "action_id": "helpline_kb:macro",
                    "block_id": f"helpline_ticket_actions:{ticket.number}",
                    "selected_option": {"value": "thanks"},
                    "action_ts": str(time.time()),
                }
            ],
        },
    )
    row = m.Outbox.get((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "reply"))
    assert row.status == "pending" and row.next_attempt_at > m.utcnow()  # the undo window
    assert f"Thanks Alice Example, Dana Agent here about {ticket.number}." in json.dumps(row.payload)
    assert "helpline_undo" in json.dumps(team.slack.calls_of("chat.postEphemeral")[-1].args["blocks"])
    assert m.Ticket.get_by_id(ticket.id).status == "waiting_customer"
    (ev,) = events(ticket, "macro_applied")
    assert ev.data["via"] == "slack" and ev.actor == f"slack:{AGENT}" and ev.data["tags"] == ["polite"]


def test_macro_from_the_command(team):
    ticket, _ = team.customer_writes(subject="Hello")
    body = urlencode(
        {
            "token": "x",
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": AGENT,
            "user_name": "d",
            "command": "/helpline",
            "text": f"macro thanks {ticket.number}",
            "api_app_id": "A0HELPLINE",
            "response_url": team.slack.response_url("cmd"),
            "trigger_id": "7.7.7",
        }
    ).encode()
    status, answer = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert status == 200 and b"Macro thanks applied" in answer
    team.work()
    assert m.Outbox.select().where((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "reply")).count() == 1
    assert len(events(ticket, "macro_applied")) == 1
    # an unknown macro is told to the agent in the thread, nothing is sent
    body = body.replace(b"macro+thanks", b"macro+nope").replace(b"7.7.7", b"7.7.8")
    status, _ = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    team.work()
    assert "no macro 'nope'" in team.slack.calls_of("chat.postEphemeral")[-1].args["text"]
    assert len(events(ticket, "macro_applied")) == 1
