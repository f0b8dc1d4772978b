"""The "Reply to customer" message shortcut: an agent's message in a ticket's thread sent to the
customer through the same path as a ``>>`` reply (undo window included), never twice, never a note.
Through the real listener (slack-bolt) against the fake Slack, on both databases."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from helpline.store import models as m

from ..support.fake_slack import TEAM, signed_headers
from ..workers.builders import events
from .conftest import AGENT, AGENT2, CHANNEL, OUTSIDER, inbound_count, next_ts, parent_ts
from .test_slack_replies import Team


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings.replace(slack_reply_mode="explicit"), relay_sink, fake_slack)
    yield t
    t.close()


def shortcut(
    team: Team, text: str, ts: str, thread_ts: str, *, user: str = AGENT, author: str = AGENT, bot: bool = False
) -> dict:
    """Use the shortcut on a message (as Slack posts a ``message_action``); the response_url answer, if any."""
    token = next_ts()
    message = {"type": "message", "user": author, "ts": ts, "thread_ts": thread_ts, "text": text}
    if bot:
        message["bot_id"] = "BHELPBOT"
    payload = {
        "type": "message_action",
        "callback_id": "helpline_reply",
        "trigger_id": token,
        "team": {"id": TEAM},
        "channel": {"id": CHANNEL, "name": "support"},
        "user": {"id": user, "team_id": TEAM},
        "message_ts": ts,
        "message": message,
        "response_url": team.slack.response_url(token),
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert status == 200
    team.work()
    answers = [c.args for c in team.slack.calls_of("response_url") if c.args["token"] == token]
    return answers[-1] if answers else {}


def replies() -> int:
    return m.Outbox.select().where(m.Outbox.kind == "reply").count()


def test_a_discussion_message_sent_with_the_shortcut_reaches_the_customer_once(team):
    ticket, mid = team.customer_writes()
    parent = parent_ts(ticket.id)
    text = "Hi Alice, your refund is on its way."
    ts, (outcome,) = team.agent_says(text, parent)  # explicit mode: only discussion
    assert outcome.action == "noop" and replies() == 0
    assert shortcut(team, text, ts, parent) == {}
    msg = team.sink.wait_for(2)[1].message()
    assert "your refund is on its way." in msg.get_content() and msg["In-Reply-To"] == mid
    assert msg["From"] == "Dana Agent <support@example.com>"
    (replied,) = events(ticket, "agent_replied")
    assert replied.actor == f"slack:{AGENT}" and replied.data["ts"] == ts
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]

    shortcut(team, text, ts, parent)  # again: told, not sent
    assert "already sent" in team.slack.calls_of("chat.postEphemeral")[-1].args["text"]
    assert replies() == 1 and len(team.sink.received) == 2


def test_the_shortcut_waits_out_the_undo_window(slack_settings, relay_sink, fake_slack):
    team = Team(slack_settings.replace(slack_reply_mode="explicit", slack_undo_seconds=30.0), relay_sink, fake_slack)
    try:
        ticket, _ = team.customer_writes()
        parent = parent_ts(ticket.id)
        ts, _ = team.agent_says("We are on it.", parent)
        shortcut(team, "We are on it.", ts, parent)
        offer = team.slack.calls_of("chat.postEphemeral")[-1]
        assert offer.args["user"] == AGENT and "helpline_undo" in json.dumps(offer.args["blocks"])
        row = m.Outbox.get(m.Outbox.kind == "reply")
        assert row.status == "pending" and row.next_attempt_at > m.utcnow()
        assert len(team.sink.received) == 1  # the acknowledgement only, for now
    finally:
        team.close()


def test_a_reply_already_sent_with_the_prefix_is_not_sent_again(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    ts, (outcome,) = team.agent_says(">> Done, see you.", parent)
    assert outcome.action == "replied"
    shortcut(team, ">> Done, see you.", ts, parent)
    assert replies() == 1 and "already sent" in team.slack.calls_of("chat.postEphemeral")[-1].args["text"]


def test_a_note_is_never_sent_by_the_shortcut(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    ts, _ = team.agent_says("#note VIP, be nice", parent)
    shortcut(team, "#note VIP, be nice", ts, parent)
    assert replies() == 0 and "internal note" in team.slack.calls_of("chat.postEphemeral")[-1].args["text"]
    assert len(team.sink.received) == 1


def test_another_agents_message_goes_under_their_name(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    ts, _ = team.agent_says("Sam here: replaced.", parent, user=AGENT2)
    shortcut(team, "Sam here: replaced.", ts, parent, user=AGENT, author=AGENT2)
    assert team.sink.wait_for(2)[1].message()["From"] == "Sam Second <support@example.com>"


@pytest.mark.parametrize(
    "who,author,bot,top,expected",
    [
        (OUTSIDER, AGENT, False, False, "Only Helpline agents"),
        (AGENT, OUTSIDER, False, False, "agent's own message"),
        (AGENT, AGENT, True, False, "agent's own message"),  # the bot's post of a customer message
        (AGENT, AGENT, False, True, "in a ticket's thread"),
    ],
)
def test_refused_at_the_edge(team, who, author, bot, top, expected):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    before = inbound_count()
    ts = next_ts()
    answer = shortcut(team, "hello", ts, ts if top else parent, user=who, author=author, bot=bot)
    assert expected in answer["text"] and answer["response_type"] == "ephemeral"
    assert inbound_count() == before and replies() == 0


def test_refused_in_a_shared_channel(team):
    ticket, _ = team.customer_writes()
    team.slack.shared.add(CHANNEL)
    answer = shortcut(team, "hello", next_ts(), parent_ts(ticket.id))
    assert "shared channels" in answer["text"] and replies() == 0
