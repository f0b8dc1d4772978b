"""A relay that takes the message but answers its end late (issue 12, fault 12): smtplib reports
the read timeout as a dropped connection; the acknowledgement must not go out a second time."""

from __future__ import annotations

import time

from helpline.notifier import outbox
from helpline.notifier.deliver import deliver_due
from helpline.notifier.email.email_sender import EmailSender
from helpline.notifier.message_ids import make_message_id
from helpline.notifier.templates import render_ack
from helpline.store import db
from helpline.store.models import Event, Outbox, OutboxStatus


def _ack(ticket, n: int) -> Outbox:  # noqa: ANN001
    payload = render_ack(
        ticket_number=ticket.number,
        subject="Re: Printer broken",
        customer_name="Ann",
        support_address="support@example.com",
        recipient="ann@customer.example",
        in_reply_to=f"<cust-{n}@customer.example>",
        references=[],
        message_id=make_message_id("example.com", ticket.number),
    )
    with db.write_tx():
        return outbox.enqueue(
            channel="email",
            kind="ack",
            recipient="ann@customer.example",
            payload=payload,
            unique_key=f"ack:{ticket.id}:{n}",
            ticket=ticket,
        )


def _status(row_id: int) -> str:
    return Outbox.get_by_id(row_id).status


def test_timeout_after_data_on_a_reused_connection_is_unknown_not_resent(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    sender = EmailSender(settings, timeout=1.0)
    try:
        first = _ack(ticket, 0)
        assert deliver_due(settings, sender).sent == 1  # the connection is now kept: the next send reuses it
        relay_sink.answer_delay_s = 2.5
        slow, queued = _ack(ticket, 1), _ack(ticket, 2)
        report = deliver_due(settings, sender)
        time.sleep(3)  # whatever the relay would still do with a resend
    finally:
        sender.close()
    assert _status(first.id) == OutboxStatus.SENT
    assert _status(slow.id) == OutboxStatus.UNKNOWN and report.unknown == 1
    assert _status(queued.id) == OutboxStatus.PENDING  # not tried behind a relay that slow; retried later
    ids = [r.message()["Message-ID"] for r in relay_sink.received]
    assert ids.count(slow.message_id) == 1, ids
    assert queued.message_id not in ids
    assert Event.select().where(Event.kind == "outbox_unknown").count() == 1


def test_timeout_after_data_on_a_new_connection_is_unknown(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    relay_sink.answer_delay_s = 2.5
    sender = EmailSender(settings, timeout=1.0)
    try:
        row = _ack(ticket, 0)
        report = deliver_due(settings, sender)
        time.sleep(2)
        again = deliver_due(settings, sender)  # a later round does not pick it up either
    finally:
        sender.close()
    assert report.unknown == 1 and again.claimed == 0
    assert _status(row.id) == OutboxStatus.UNKNOWN
    assert len(relay_sink.received) == 1
