"""Outbound webhooks: ticket events to a source's callback URL, signed, retried with
back-off through the outbox, with an event id that stays the same on every retry.
The receiver is a local aiohttp server; the real sender (urllib) talks to it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest

from helpline.notifier import outbox
from helpline.notifier.deliver import deliver_due, deliver_one
from helpline.notifier.senders import make_senders
from helpline.store import models as m
from helpline.store.config import ConfigError


from ..support.stack import free_port
from ..workers.builders import mail, set_status
from .support import SHOP_SECRET, SOURCES, message
from .test_webhook_tickets import HookDesk


@pytest.fixture
def desk(backend, receiver):
    return HookDesk(backend.replace(webhook_sources=SOURCES, webhook_callbacks=f"shop={receiver.url}"))


def sender(desk):  # noqa: ANN001, ANN201
    return make_senders(desk.settings)["webhook"]


def verified(request: dict) -> bool:
    """The receiver's check, written from the documentation with the standard library."""
    h = request["headers"]
    expected = (
        "sha256="
        + hmac.new(
            SHOP_SECRET.encode(), h["X-Helpline-Timestamp"].encode() + b"." + request["body"], hashlib.sha256
        ).hexdigest()
    )
    return (
        hmac.compare_digest(expected, h["X-Helpline-Signature"])
        and abs(int(h["X-Helpline-Timestamp"]) - time.time()) < 300
    )


def test_a_new_ticket_is_announced_signed(desk, receiver):
    outcome = desk.hook(message(metadata={"order": "4711"}), key="m-1")
    ticket = m.Ticket.get_by_id(outcome.ticket_id)
    (row_id,) = outcome.outbox_ids
    report = deliver_one(desk.settings, sender(desk), row_id)
    assert report.sent == 1
    (req,) = receiver.requests
    assert verified(req)
    event = json.loads(req["body"])
    assert event["type"] == "ticket.created" == req["headers"]["X-Helpline-Event"]
    assert event["id"] == req["headers"]["X-Helpline-Event-Id"] and event["id"].startswith("evt_")
    assert req["headers"]["X-Helpline-Source"] == "shop"
    assert event["ticket"] == {
        "number": ticket.number,
        "subject": "Order 4711 has not arrived",
        "status": "new",
        "channel": "webhook",
        "metadata": {"order": "4711"},
    }
    assert event["message"]["text"].startswith("Where is my parcel?")
    row = m.Outbox.get_by_id(row_id)
    assert (row.status, row.channel, row.recipient) == ("sent", "webhook", "shop")


def test_failures_are_retried_with_backoff_and_the_same_event_id(desk, receiver):
    receiver.script = [503, 500]
    (row_id,) = desk.hook(message()).outbox_ids
    hook = sender(desk)
    assert deliver_one(desk.settings, hook, row_id).retry == 1
    row = m.Outbox.get_by_id(row_id)
    assert row.status == "pending" and row.attempts == 1 and "503" in row.last_error
    first_wait = row.next_attempt_at - row.updated_at
    assert deliver_due(desk.settings, hook).claimed == 0  # not due yet: back-off
    time.sleep(first_wait.total_seconds() + 0.1)
    assert deliver_due(desk.settings, hook).retry == 1
    row = m.Outbox.get_by_id(row_id)
    assert row.next_attempt_at - row.updated_at > first_wait  # the delay grows
    time.sleep((row.next_attempt_at - m.utcnow()).total_seconds() + 0.1)
    assert deliver_due(desk.settings, hook).sent == 1
    assert len(receiver.requests) == 3 and all(verified(r) for r in receiver.requests)
    assert len({r["headers"]["X-Helpline-Event-Id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1


def test_a_receivers_retry_after_is_honoured(desk, receiver):
    receiver.script = [(429, {"Retry-After": "120"})]
    (row_id,) = desk.hook(message()).outbox_ids
    assert deliver_one(desk.settings, sender(desk), row_id).retry == 1
    row = m.Outbox.get_by_id(row_id)
    wait = (row.next_attempt_at - row.updated_at).total_seconds()
    assert 119 <= wait <= 121 and "429" in row.last_error  # not the 0.2 s back-off of these settings


def test_a_refusal_fails_for_good_and_tells_the_ticket(desk, receiver):
    receiver.script = [410]
    outcome = desk.hook(message())
    assert deliver_one(desk.settings, sender(desk), outcome.outbox_ids[0]).failed == 1
    row = m.Outbox.get_by_id(outcome.outbox_ids[0])
    assert row.status == "failed" and "410" in row.last_error
    assert m.Event.select().where(m.Event.ticket == outcome.ticket_id, m.Event.kind == "outbox_failed").count() == 1


def test_an_unreachable_receiver_is_retried_and_paused(backend):
    port = free_port()  # nothing listens here
    d = HookDesk(backend.replace(webhook_sources=SOURCES, webhook_callbacks=f"shop=http://127.0.0.1:{port}/x"))
    first, second = d.hook(message()), d.hook(message(text="Another question entirely."))
    hook = sender(d)
    report = deliver_due(d.settings, hook)
    assert report.retry == 2 and report.sent == 0
    errors = [m.Outbox.get_by_id(i).last_error for i in first.outbox_ids + second.outbox_ids]
    assert "unreachable (" in errors[0] and "unreachable moments ago" in errors[1]


def test_replies_and_status_changes_follow_the_ticket(desk, receiver):
    first = desk.hook(message(conversation_id="chat-1"))
    ticket = m.Ticket.get_by_id(first.ticket_id)
    t = m.Ticket.get_by_id(ticket.id)
    t.status = "waiting_customer"
    t.save()
    reply = desk.hook(message(conversation_id="chat-1", text="Here is the tracking number you asked for."))
    set_status(ticket, "resolved", resolved_ago=dt.timedelta(hours=1))
    reopened = desk.hook(message(conversation_id="chat-1", text="It is broken again."))
    # the customer answers the ticket by email, too: the source hears of it
    by_mail = desk.receive(
        mail(sender="Ann <ann@example.org>", subject=f"Re: [{ticket.number}] Order", body="One more detail by mail.\n")[
            0
        ]
    )
    assert by_mail.ticket_id == ticket.id
    assert deliver_due(desk.settings, sender(desk)).sent == 6
    kinds = [(e["type"], e.get("status")) for e in receiver.events()]
    assert kinds == [
        ("ticket.created", None),
        ("ticket.status_changed", {"from": "waiting_customer", "to": "open"}),
        ("ticket.replied", None),
        ("ticket.status_changed", {"from": "resolved", "to": "open"}),
        ("ticket.replied", None),
        ("ticket.replied", None),
    ]
    assert receiver.events()[-1]["message"]["channel"] == "email"
    assert reply.ticket_id == reopened.ticket_id == ticket.id
    assert len({e["id"] for e in receiver.events()}) == 6


def test_tickets_of_other_sources_and_email_send_nothing(desk, receiver):
    crm = desk.hook(message(), source="crm")  # crm has no callback
    email = desk.receive(mail()[0])
    assert crm.outbox_ids == [] and email.action == "created"
    assert m.Outbox.select().where(m.Outbox.channel == "webhook").count() == 0
    assert receiver.requests == []


def test_a_send_cut_short_is_resent_not_left_unknown(desk, receiver):
    (row_id,) = desk.hook(message()).outbox_ids
    stuck = outbox.claim_one(row_id, channel="webhook")  # the sender died after claiming it
    assert stuck is not None
    m.Outbox.update(updated_at=m.utcnow() - dt.timedelta(hours=1)).where(m.Outbox.id == row_id).execute()
    assert outbox.recover_stuck(desk.settings) == 1
    assert m.Outbox.get_by_id(row_id).status == "pending"
    assert deliver_due(desk.settings, sender(desk)).sent == 1


def test_callbacks_need_a_signing_source(backend):
    bad = backend.replace(webhook_sources=SOURCES, webhook_callbacks="nobody=https://example.org/hook")
    with pytest.raises(ConfigError, match="no secret"):
        make_senders(bad)
    with pytest.raises(ConfigError, match="not an http"):
        make_senders(backend.replace(webhook_sources=SOURCES, webhook_callbacks="shop=ftp://example.org/"))
