"""The Slack round trip with real processes, as an operator runs them: `helpline ingest`,
`helpline worker` and `helpline scheduler` with HELPLINE_SLACK_* pointing at the fake Slack
Web API and the relay at the SMTP sink. On SQLite + bundled Redis and PostgreSQL + Redis."""

from __future__ import annotations

import json
import time

import pytest

from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until

from ..support.fake_slack import event_callback, signed_headers
from .conftest import AGENT, CHANNEL, next_ts, post, thread_message


@pytest.fixture
def stack(slack_settings, relay_sink, tmp_path):
    # The default undo window (5 s): the reply must still arrive within seconds.
    s = Stack(slack_settings.replace(smtp_relay=relay_sink.address, slack_undo_seconds=5.0), tmp_path)
    s.start_ingest().start_worker(processes=1, threads=2).start_scheduler()
    yield s
    s.stop()


def send_event(stack: Stack, event: dict, *, retry_num: int | None = None, secret: str | None = None) -> int:
    body = json.dumps(event_callback(event, event_id="Ev" + event["ts"].replace(".", ""))).encode()
    headers = signed_headers(body, retry_num=retry_num) if secret is None else signed_headers(body, secret=secret)
    return post(f"http://{stack.settings.http_listen}/slack/events", body, headers)[0]


def test_email_to_slack_thread_and_back_to_the_customer(stack, relay_sink, fake_slack):
    raw, mid = make_mail(subject="Invoice 2231 is wrong", body="Hello,\nthe invoice charges me twice.\n\nAlice\n")
    sent_at = time.monotonic()
    assert stack.send(raw)[0] == 250
    parent_call = fake_slack.wait_for("chat.postMessage", 1)[0]
    print(f"event=slack_parent_latency seconds={parent_call.at - sent_at:.3f}")
    assert parent_call.args["channel"] == CHANNEL and "Invoice 2231 is wrong" in parent_call.args["text"]
    ticket = m.Ticket.get()
    parent = wait_until(
        lambda: m.Outbox.get_or_none((m.Outbox.kind == "slack_ticket") & (m.Outbox.status == "sent")),
        what="the parent marked sent",
    ).provider_id.split(":", 1)[1]
    relay_sink.wait_for(1)  # the acknowledgement

    # A forged request is refused and changes nothing.
    note_ts = next_ts()
    assert send_event(stack, thread_message("#note forged", parent, ts=note_ts), secret="forged-secret") == 401

    # An internal note stays internal; the reply goes out, once, despite Slack's retries.
    assert send_event(stack, thread_message("#note double charge confirmed in Stripe", parent, ts=note_ts)) == 200
    reply_ts = next_ts()
    started = time.monotonic()
    assert send_event(stack, thread_message("Sorry Alice, the second charge is refunded.", parent, ts=reply_ts)) == 200
    assert (
        send_event(
            stack, thread_message("Sorry Alice, the second charge is refunded.", parent, ts=reply_ts), retry_num=1
        )
        == 200
    )
    reply = relay_sink.wait_for(2)[1]
    took = time.monotonic() - started
    msg = reply.message()
    assert msg["In-Reply-To"] == mid and mid in msg["References"]
    assert f"[{ticket.number}]" in msg["Subject"] and reply.rcpt_tos == ["alice@example.org"]
    assert "the second charge is refunded" in msg.get_content()
    print(f"event=slack_reply_latency seconds={took:.3f}")

    wait_until(lambda: fake_slack.reactions.get((CHANNEL, reply_ts)) == ["white_check_mark"], what="confirmation")
    wait_until(lambda: fake_slack.reactions.get((CHANNEL, note_ts)) == ["lock"], what="note marked")
    wait_until(lambda: m.Inbound.select().where(m.Inbound.status == "pending").count() == 0, what="all processed")
    time.sleep(1.0)  # a second reply, if any, would be on its way by now
    assert len(relay_sink.received) == 2
    assert m.Message.select().where((m.Message.ticket == ticket) & (m.Message.direction == "note")).count() == 1
    assert m.Inbound.select().where(m.Inbound.channel == "slack").count() == 2  # the note and the reply, once each
    assert AGENT in fake_slack.users and any(c.args.get("user") == AGENT for c in fake_slack.calls_of("users.info"))
