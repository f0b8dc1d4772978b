"""POST /slack/events: requests signed as Slack signs them, through slack-bolt's
AsyncApp on the real public listener, into the durable intake."""

from __future__ import annotations

import json
import time

from helpline.store import models as m

from ..support.fake_slack import BOT_ID, BOT_USER, event_callback, signed_headers
from .conftest import AGENT, CHANNEL, OUTSIDER, inbound_count, next_ts, signed_event, thread_message

PARENT = "1700000001.000100"


def test_url_verification_challenge_is_answered(listener):
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    ).encode()
    status, answer = listener.post(body, signed_headers(body))
    assert status == 200
    assert json.loads(answer) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_forged_or_stale_signature_is_refused_and_nothing_stored(listener, fake_slack):
    body, headers = signed_event(thread_message("Refund sent.", PARENT))
    forged = dict(headers, **{"X-Slack-Signature": "v0=" + "0" * 64})
    assert listener.post(body, forged)[0] == 401
    wrong_secret = signed_headers(body, secret="not-the-signing-secret")
    assert listener.post(body, wrong_secret)[0] == 401
    stale = signed_headers(body, timestamp=int(time.time()) - 600)  # a replay from ten minutes ago
    assert listener.post(body, stale)[0] == 401
    tampered = body.replace(b"Refund sent.", b"Refund denied")
    assert listener.post(tampered, headers)[0] == 401
    assert listener.post(body, {"Content-Type": "application/json"})[0] == 401
    assert inbound_count() == 0 and not fake_slack.calls


def test_agent_thread_message_becomes_a_durable_inbound_row(listener, slack_desk):
    ts = next_ts()
    body, headers = signed_event(thread_message("Hi Alice &amp; co, <https://x.example/r|the form>", PARENT, ts=ts))
    status, _ = listener.post(body, headers)
    assert status == 200
    row = m.Inbound.get()
    assert (row.channel, row.external_id, row.status) == ("slack", f"{CHANNEL}:{ts}", "pending")
    env = row.envelope
    assert env["author_role"] == "agent" and env["sender"] == {"address": AGENT, "name": "Dana Agent", "kind": "slack"}
    assert env["thread"]["slack_thread"] == PARENT
    assert env["text"] == "Hi Alice & co, the form (https://x.example/r)"
    assert env["metadata"]["slack_channel"] == CHANNEL and env["metadata"]["event"] == "posted"
    assert env["metadata"]["user_email"] == "dana@support.example.com"
    assert slack_desk.submitted == [row.id]
    assert slack_desk.intake.blobs.get(row.raw_blob_key) == body


def test_retried_and_doubled_events_are_one_message(listener, slack_desk):
    ts = next_ts()
    event = thread_message("We shipped it today.", PARENT, ts=ts)
    body = json.dumps(event_callback(event, event_id="Ev0RETRY01")).encode()
    assert listener.post(body, signed_headers(body))[0] == 200
    assert listener.post(body, signed_headers(body, retry_num=1))[0] == 200  # Slack's retry
    mention = dict(event, type="app_mention")  # the same message as another event type
    body2 = json.dumps(event_callback(mention, event_id="Ev0MENTION")).encode()
    assert listener.post(body2, signed_headers(body2))[0] == 200
    assert inbound_count() == 1 and len(slack_desk.submitted) == 1


def test_an_edit_is_a_new_row_of_the_same_message(listener):
    ts = next_ts()
    body, headers = signed_event(thread_message("Refund of 20 EUR sent.", PARENT, ts=ts))
    listener.post(body, headers)
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "hidden": True,
        "ts": next_ts(),
        "message": {
            "type": "message",
            "user": AGENT,
            "text": "Refund of 25 EUR sent.",
            "ts": ts,
            "thread_ts": PARENT,
            "edited": {"user": AGENT, "ts": next_ts()},
        },
        "previous_message": {
            "type": "message",
            "user": AGENT,
            "text": "Refund of 20 EUR sent.",
            "ts": ts,
            "thread_ts": PARENT,
        },
    }
    body, headers = signed_event(edited)
    assert listener.post(body, headers)[0] == 200
    rows = list(m.Inbound.select().order_by(m.Inbound.id))
    assert [r.external_id for r in rows] == [f"{CHANNEL}:{ts}"] * 2
    assert rows[1].envelope["metadata"]["event"] == "edited" and rows[1].envelope["text"] == "Refund of 25 EUR sent."


def test_messages_that_are_not_an_agents_thread_reply_are_ignored(listener, fake_slack):
    cases = [
        thread_message("I am a customer of yours, let me in", PARENT, user=OUTSIDER),  # not an agent
        thread_message("Posted by our bot", PARENT, user=BOT_USER, bot_id=BOT_ID),  # ourselves
        thread_message("Another bot", PARENT, user="U0OTHERBOT", bot_id="B0OTHER", subtype="bot_message"),
        {"type": "message", "channel": CHANNEL, "user": AGENT, "text": "top-level chatter", "ts": next_ts()},
        {
            "type": "message",
            "subtype": "channel_join",
            "channel": CHANNEL,
            "user": AGENT,
            "ts": next_ts(),
            "thread_ts": PARENT,
            "text": "<@U0AGENT01> has joined the channel",
        },
        {
            "type": "reaction_added",
            "user": AGENT,
            "reaction": "eyes",
            "item": {"type": "message", "channel": CHANNEL, "ts": PARENT},
            "event_ts": next_ts(),
        },
    ]
    for event in cases:
        body, headers = signed_event(event)
        status, _ = listener.post(body, headers)
        assert status == 200, event
    assert inbound_count() == 0
    assert not fake_slack.calls_of("users.info")  # nobody was looked up for an ignored message
