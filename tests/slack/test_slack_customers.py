"""Customers who ask for help in Slack: a customer-facing channel (Slack Connect, a
community) or the bot's direct messages, and the ticket emoji on any message."""

from __future__ import annotations

import json

import pytest

from helpline.store import models as m

from ..support.fake_slack import BOT_ID, BOT_USER
from ..workers.builders import events
from .conftest import AGENT, CHANNEL, OUTSIDER, next_ts, parent_ts
from .test_slack_actions import press
from .test_slack_replies import Team

CUSTOMERS = "C0CUSTOMER"
CARLA = "U0CARLA01"


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    fake_slack.add_user(CARLA, "Carla Customer", "carla@client.example")
    t = Team(slack_settings.replace(slack_intake_channels=(CUSTOMERS,)), relay_sink, fake_slack)
    yield t
    t.close()


def customer_says(
    team: Team,
    text: str,
    *,
    ts: str | None = None,
    thread_ts: str = "",
    channel: str = CUSTOMERS,
    user: str = CARLA,
    **extra,
) -> tuple[str, list]:
    ts = ts or next_ts()
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "channel_type": extra.pop("channel_type", "channel"),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return team.agent_says("", "", event=event, ts=ts)


def posts_in(team: Team, channel: str, thread_ts: str) -> list[str]:
    return [
        json.dumps(c.args.get("blocks"))
        for c in team.slack.calls_of("chat.postMessage")
        if c.args["channel"] == channel and c.args.get("thread_ts") == thread_ts
    ]


def test_a_customer_in_slack_gets_a_ticket_and_the_agents_answer_in_their_thread(team):
    root, (created,) = customer_says(team, "Our SSO login fails since the update\nError 403 on every try.")
    assert created.action == "created"
    ticket = m.Ticket.get_by_id(created.ticket_id)
    assert (ticket.channel, ticket.subject) == ("slack", "Our SSO login fails since the update")
    identity = m.Identity.get(m.Identity.customer == ticket.customer_id)
    assert (identity.kind, identity.address) == ("slack", CARLA)
    internal = team.slack.calls_of("chat.postMessage")[0]
    assert internal.args["channel"] == CHANNEL and "Carla Customer" in json.dumps(internal.args["blocks"])
    (ack,) = posts_in(team, CUSTOMERS, root)
    assert ticket.number in ack and "Error 403" not in ack  # acknowledged, never echoed

    _, (followed,) = customer_says(team, "Also on mobile.", thread_ts=root)
    assert (followed.action, followed.ticket_id) == ("appended", ticket.id)
    assert "Also on mobile." in posts_in(team, CHANNEL, parent_ts(ticket.id))[-1]

    agent_ts, (replied,) = team.agent_says("We rolled the SSO change back; please try again.", parent_ts(ticket.id))
    assert replied.action == "replied"
    answer = posts_in(team, CUSTOMERS, root)[-1]
    assert "Dana Agent" in answer and "We rolled the SSO change back" in answer
    out = m.Message.get((m.Message.ticket == ticket) & (m.Message.direction == "out"))
    assert (out.channel, out.author, out.author_role) == ("slack", "Dana Agent", "agent")
    assert team.slack.reactions[(CHANNEL, agent_ts)] == ["white_check_mark"]

    # The bot's own post in the customer's thread comes back as an event: ignored, no loop, no echo.
    _, outcomes = customer_says(team, "We rolled the SSO change back", thread_ts=root, user=BOT_USER, bot_id=BOT_ID)
    assert outcomes == []

    # An agent answering right in the customer's thread: the agent's message, not the customer's.
    posts_before = len(team.slack.calls_of("chat.postMessage"))
    _, (direct,) = customer_says(team, "Works for me now too.", thread_ts=root, user=AGENT)
    assert direct.action == "replied" and len(team.slack.calls_of("chat.postMessage")) == posts_before
    msgs = list(m.Message.select().where(m.Message.ticket == ticket).order_by(m.Message.id))
    assert [(x.direction, x.author_role) for x in msgs] == [
        ("in", "customer"),
        ("in", "customer"),
        ("out", "agent"),
        ("out", "agent"),
    ]

    # Status changes reach the customer's thread; internal notes never do.
    team.agent_says("#note Carla's admin disabled SSO by mistake", parent_ts(ticket.id))
    press(team, ticket, "status:resolved")
    customer_thread = posts_in(team, CUSTOMERS, root)
    assert "resolved" in customer_thread[-1]
    assert not any("disabled SSO" in p for p in customer_thread)


def test_direct_messages_to_the_bot_are_customer_messages(team):
    _, (created,) = customer_says(team, "Hi, how do I export my data?", channel="D0CARLA01", channel_type="im")
    assert created.action == "created" and m.Ticket.get_by_id(created.ticket_id).channel == "slack"


def test_people_in_internal_channels_are_not_customers(team):
    _, outcomes = customer_says(team, "Is anyone there?", channel="C0RANDOM")
    assert outcomes == [] and m.Ticket.select().count() == 0


def test_the_ticket_emoji_turns_a_message_into_a_ticket_for_its_author(team):
    ts = next_ts()
    team.slack.add_message("C0GENERAL", ts, OUTSIDER, "Can someone look at invoice 77? It is &lt;wrong&gt;.")

    def react(user: str, reaction: str = "ticket") -> list:
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": OUTSIDER,
            "item": {"type": "message", "channel": "C0GENERAL", "ts": ts},
            "event_ts": next_ts(),
        }
        return team.agent_says("", "", event=event, ts=next_ts())[1]

    assert react(OUTSIDER) == [] and react(AGENT, "eyes") == []  # only an agent's ticket emoji counts
    (created,) = react(AGENT)
    ticket = m.Ticket.get_by_id(created.ticket_id)
    msg = m.Message.get(m.Message.ticket == ticket)
    assert (msg.text, msg.sender, msg.author) == (
        "Can someone look at invoice 77? It is <wrong>.",
        OUTSIDER,
        "Olly Outsider",
    )
    assert ticket.number in posts_in(team, "C0GENERAL", ts)[0]
    assert react(AGENT) == []  # a second ticket emoji: the same message, no second ticket
    assert m.Ticket.select().count() == 1 and events(ticket, "ticket_created")
