"""Personal data in Slack: a card number or IBAN in a customer's email is masked in what the bot posts and in
the log; an agent whose role may see it reveals it to themselves alone, audited. Through the real pipeline,
sender, listener (slack-bolt) and the fake Slack, on both databases."""

from __future__ import annotations

import io
import json
import logging

import pytest

from helpline.store import models as m
from helpline.store.tickets import routing_state as rs
from helpline.store.logs import KeyValueFormatter

from ..workers.builders import events
from .conftest import AGENT, AGENT2, CHANNEL, parent_ts
from .test_slack_controls import click, team  # noqa: F401  (the fixture)

CARD = "4539 1488 0343 6467"
CARD_DIGITS = CARD.replace(" ", "")
IBAN = "DE89 3704 0044 0532 0130 00"
BODY = f"Hello,\nplease charge my card {CARD} for order 55012 and refund the rest to {IBAN}.\nThanks, Alice"


@pytest.fixture
def log_lines():
    """Everything Helpline and its libraries log, at DEBUG, through Helpline's own formatter."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield buf
    root.removeHandler(handler)
    root.setLevel(old_level)


def posted(team) -> str:
    return json.dumps(
        [c.args for c in team.slack.calls_of("chat.postMessage") + team.slack.calls_of("chat.update")],
        ensure_ascii=False,
    )


def reveal_button(team, ticket, message_ts: str | None = None) -> dict:
    ts = message_ts or parent_ts(ticket.id)
    msg = team.slack.messages[(CHANNEL, ts)]
    (button,) = [
        e for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "helpline_reveal"
    ]
    return button


def test_a_card_number_in_a_customers_email_is_masked_in_the_slack_post_and_the_log(team, log_lines):
    ticket, _ = team.customer_writes(subject="Payment", body=BODY)
    stored = m.Message.get(m.Message.ticket == ticket.id)
    assert CARD in stored.text  # stored as received: masking is on the way out
    shown = posted(team)
    assert CARD not in shown and CARD_DIGITS not in shown and "0532 0130" not in shown
    assert "[card ••••6467]" in shown and "[IBAN DE••••3000]" in shown
    assert "order 55012" in shown  # what agents need stays
    assert reveal_button(team, ticket)["value"] == str(stored.id)
    logged = log_lines.getvalue()
    assert "chat.postMessage" in logged or "chat_postMessage" in logged or "slack" in logged  # it did log
    assert CARD not in logged and CARD_DIGITS not in logged and "3704 0044" not in logged


def test_a_later_message_in_the_thread_is_masked_too(team):
    ticket, mid = team.customer_writes(subject="Payment", body="Hello, my order is late.")
    team.customer_writes(subject="Re: Payment", body=f"Also my IBAN is {IBAN}.", in_reply_to=mid)
    thread = [
        c.args for c in team.slack.calls_of("chat.postMessage") if c.args.get("thread_ts") == parent_ts(ticket.id)
    ]
    assert thread and IBAN not in json.dumps(thread) and "[IBAN DE••••3000]" in json.dumps(thread, ensure_ascii=False)
    assert any("helpline_reveal" in json.dumps(t["blocks"]) for t in thread)


def test_a_first_line_agent_may_not_reveal(team):
    ticket, _ = team.customer_writes(subject="Payment", body=BODY)
    answer = click(team, ticket, reveal_button(team, ticket))
    assert answer["response_type"] == "ephemeral" and "senior role" in answer["text"]
    assert CARD not in answer["text"]
    assert not events(ticket, "pii_revealed")


def test_a_senior_reveals_to_themselves_and_it_is_audited(team):
    rs.Agent.create(email="sam@support.example.com", name="Sam", slack_user=AGENT2, role="senior")
    ticket, _ = team.customer_writes(subject="Payment", body=BODY)
    before = len(team.slack.calls_of("chat.postMessage"))
    answer = click(team, ticket, reveal_button(team, ticket), user=AGENT2)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert CARD in answer["text"] and IBAN in answer["text"]
    assert len(team.slack.calls_of("chat.postMessage")) == before  # nothing into the channel
    (ev,) = events(ticket, "pii_revealed")
    assert ev.actor == "sam@support.example.com" and ev.data["via"] == "slack" and ev.data["role"] == "senior"
    assert CARD not in json.dumps(ev.data)


def test_someone_who_is_not_an_agent_may_not_reveal(team):
    from .conftest import OUTSIDER

    ticket, _ = team.customer_writes(subject="Payment", body=BODY)
    answer = click(team, ticket, reveal_button(team, ticket), user=OUTSIDER)
    assert "Only Helpline agents" in answer["text"] and not events(ticket, "pii_revealed")
    assert AGENT  # the listed agent of the other tests
