"""/helpline: mine, queue, show, status and search, answered ephemerally to agents only."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from helpline.store import models as m

from ..support.fake_slack import TEAM, signed_headers
from .conftest import AGENT, CHANNEL, OUTSIDER, parent_ts
from .test_slack_actions import press
from .test_slack_replies import Team


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def slash(team: Team, text: str, *, user: str = AGENT, channel: str = CHANNEL) -> dict:
    body = urlencode(
        {
            "token": "x",
            "team_id": TEAM,
            "channel_id": channel,
            "channel_name": "support",
            "user_id": user,
            "user_name": "someone",
            "command": "/helpline",
            "text": text,
            "api_app_id": "A0HELPLINE",
            "response_url": team.slack.response_url("cmd"),
            "trigger_id": "1.2.3",
        }
    ).encode()
    headers = dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    status, answer = team.listener.post(body, headers)
    assert status == 200
    try:
        return json.loads(answer)
    except ValueError:  # bolt answers a text-only ack as plain text, which Slack shows ephemerally too
        return {"text": answer.decode()}


def test_mine_queue_show_and_search(team):
    first, _ = team.customer_writes(subject="Invoice <!channel> wrong", body="Charged twice for order 4711.\n")
    second, _ = team.customer_writes(
        subject="Parcel lost", body="The parcel never came.\n", sender="Bob <bob@example.org>"
    )
    press(team, first, "take")

    mine = slash(team, "mine")
    assert first.number in mine["text"] and second.number not in mine["text"]
    assert "&lt;!channel&gt;" in mine["text"] and "<!channel>" not in mine["text"]
    assert f"https://slack.com/archives/{CHANNEL}/p{parent_ts(first.id).replace('.', '')}" in mine["text"]
    assert mine.get("response_type", "ephemeral") == "ephemeral"

    queue = slash(team, "queue")
    assert second.number in queue["text"] and first.number not in queue["text"]
    assert "Nothing waits" in slash(team, "queue", channel="C0ELSEWHERE")["text"]

    shown = slash(team, f"show {second.number.lower()}")
    assert shown["blocks"][0]["text"]["text"].startswith(second.number)
    assert "No ticket" in slash(team, "show HL-2026-999999")["text"]

    found = slash(team, "search order 4711")
    assert first.number in found["text"] and second.number not in found["text"]
    assert "No ticket matches" in slash(team, "search nothing-like-this")["text"]


def test_status_is_recorded_for_routing(team):
    assert "*busy*" in slash(team, "status busy")["text"]
    event = m.Event.get(m.Event.kind == "agent_availability")
    assert (event.actor, event.data["status"], event.ticket_id) == (f"slack:{AGENT}", "busy", None)


def test_help_for_anything_else(team):
    assert "`mine`" in slash(team, "")["text"] and "`queue`" in slash(team, "dance")["text"]


def test_only_agents_and_not_in_shared_channels(team):
    team.customer_writes()
    assert "Only Helpline agents" in slash(team, "queue", user=OUTSIDER)["text"]
    team.slack.shared.add(CHANNEL)
    assert "shared channels" in slash(team, "queue")["text"]
    assert not m.Event.select().where(m.Event.kind == "agent_availability").exists()


def test_spam_count_and_listing(team):
    """Spam posts nothing to Slack on arrival; before, agents saw its count only in Prometheus."""
    from helpline.store.db import run_tx
    from helpline.store.inbound import blocklist

    assert slash(team, "spam")["text"].startswith("*Spam: 0*")
    run_tx(lambda: blocklist.add("spam.example", reason="test", added_by="test"))
    spam = [
        team.customer_writes(sender=f"Deals <deals{i}@spam.example>", subject=f"Cheap <!here> offer {i}")[0]
        for i in range(2)
    ]
    assert {reload_status(t) for t in spam} == {"spam"}
    ticket, _ = team.customer_writes(subject="Parcel lost", body="The parcel never came.\n")

    listed = slash(team, "spam")["text"]
    assert listed.startswith("*Spam: 2* waiting for review")
    assert all(t.number in listed for t in spam) and ticket.number not in listed
    assert "&lt;!here&gt;" in listed and "<!here>" not in listed and "deals0@spam.example" not in listed
    assert "helpline tickets not-spam" in listed

    queue = slash(team, "queue")["text"]
    assert ticket.number in queue and "2 messages kept as spam" in queue and "/helpline spam" in queue
    assert "spam" in slash(team, "help")["text"]


def reload_status(t: m.Ticket) -> str:
    return m.Ticket.get_by_id(t.id).status
