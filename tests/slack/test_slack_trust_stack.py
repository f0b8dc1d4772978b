"""Roles and masking with real processes, as an operator runs them (`helpline ingest`, `helpline worker`,
`helpline scheduler` at DEBUG, Slack pointed at the fake Web API): a card number in a customer's email is masked
in the Slack post and in every process's log, and a first-line agent's Merge click is refused ephemerally with
nothing changed. On SQLite + bundled Redis and PostgreSQL + Redis."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until

from ..support.fake_slack import TEAM, signed_headers
from .conftest import AGENT, CHANNEL, next_ts, post

CARD = "4539 1488 0343 6467"


@pytest.fixture
def stack(slack_settings, relay_sink, tmp_path):
    s = Stack(slack_settings.replace(smtp_relay=relay_sink.address, log_level="DEBUG"), tmp_path)
    s.start_ingest().start_worker(processes=1, threads=2).start_scheduler()
    yield s
    s.stop()


def click(stack: Stack, fake_slack, ticket: m.Ticket, parent: str, action: dict, user: str = AGENT) -> dict:
    token = next_ts()
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": parent},
        "channel": {"id": CHANNEL},
        "message": {"ts": parent},
        "response_url": fake_slack.response_url(token),
        "trigger_id": "1.2",
        "actions": [{"block_id": f"helpline_ticket_actions:{ticket.number}", "action_ts": token, **action}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = post(
        f"http://{stack.settings.http_listen}/slack/events",
        body,
        dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert status == 200
    return wait_until(
        lambda: next((c.args for c in fake_slack.calls_of("response_url") if c.args["token"] == token), None),
        what="the ephemeral answer",
    )


def test_masked_post_and_logs_and_a_refused_merge(stack, fake_slack, relay_sink):
    raw, _ = make_mail(subject="Payment", body=f"Hello,\nplease charge my card {CARD} for order 55012.\n\nAlice\n")
    assert stack.send(raw)[0] == 250
    raw2, _ = make_mail(subject="Something else", body="Where is my parcel?\n", sender="Bob <bob@example.org>")
    assert stack.send(raw2)[0] == 250
    fake_slack.wait_for("chat.postMessage", 2, timeout=60)
    first, second = wait_until(
        lambda: list(m.Ticket.select().order_by(m.Ticket.id)) if m.Ticket.select().count() == 2 else None,
        what="two tickets",
    )
    posted = json.dumps([c.args for c in fake_slack.calls_of("chat.postMessage")], ensure_ascii=False)
    assert CARD not in posted and CARD.replace(" ", "") not in posted and "[card ••••6467]" in posted
    parent = wait_until(
        lambda: m.Outbox.get_or_none(
            (m.Outbox.kind == "slack_ticket") & (m.Outbox.status == "sent") & (m.Outbox.ticket == first.id)
        ),
        what="parent sent",
    )
    parent_ts = parent.provider_id.split(":", 1)[1]

    rows = m.Inbound.select().count()
    answer = click(
        stack,
        fake_slack,
        first,
        parent_ts,
        {"type": "button", "action_id": f"helpline_ticket:merge:{second.number}", "value": first.number},
    )
    assert answer["response_type"] == "ephemeral" and "senior role" in answer["text"]
    assert m.Inbound.select().count() == rows and m.Ticket.get_by_id(first.id).status == "new"
    assert not m.Event.select().where(m.Event.kind == "merged_into").exists()

    stack.stop()
    logs = {name: stack.log(name) for name in ("ingest", "worker", "scheduler")}
    every = "".join(logs.values())  # a worker or the scheduler's sweep may be the one that posted
    assert "chat.postMessage" in every  # DEBUG did log the Slack calls' bodies
    for name, text in logs.items():
        assert CARD not in text and CARD.replace(" ", "") not in text, name
    assert "[card ••••6467]" in every
