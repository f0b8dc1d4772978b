"""EmailSender and deliver_due against a real SMTP server (the relay sink)."""

from __future__ import annotations

import logging
import socket

import pytest

from helpline.ingest.tools.relay_sink import RelaySink
from helpline.notifier import outbox
from helpline.notifier.deliver import deliver_due, deliver_one
from helpline.notifier.email.email_sender import EmailSender
from helpline.notifier.errors import PermanentFailure, RelayUnavailable, TemporaryFailure
from helpline.notifier.message_ids import make_message_id
from helpline.notifier.templates import render_ack
from helpline.store import db
from helpline.store.models import Event, Outbox, OutboxStatus, utcnow


def _ack(ticket, n: int = 0, recipient: str = "ann@customer.example") -> Outbox:
    payload = render_ack(
        ticket_number=ticket.number,
        subject="Re: Printer broken",
        customer_name="Ann",
        support_address="support@example.com",
        recipient=recipient,
        in_reply_to=f"<cust-{n}@customer.example>",
        references=["<older@customer.example>"],
        message_id=make_message_id("example.com", ticket.number),
    )
    with db.write_tx():
        return outbox.enqueue(
            channel="email",
            kind="ack",
            recipient=recipient,
            payload=payload,
            unique_key=f"ack:{ticket.id}:{n}",
            ticket=ticket,
        )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_ack_arrives_with_the_right_headers(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    row = _ack(ticket)
    sender = EmailSender(settings)
    report = deliver_due(settings, sender)
    sender.close()
    assert (report.claimed, report.sent, report.retry, report.failed) == (1, 1, 0, 0)
    (got,) = relay_sink.wait_for(1)
    assert got.mail_from == "support@example.com" and got.rcpt_tos == ["ann@customer.example"]
    msg = got.message()
    assert msg["Message-ID"] == row.message_id
    assert msg["In-Reply-To"] == "<cust-0@customer.example>"
    assert msg["References"] == "<older@customer.example> <cust-0@customer.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Helpline-Ticket"] == ticket.number
    assert msg["From"] == "support@example.com"
    assert msg["Subject"] == f"[{ticket.number}] Re: Printer broken"
    assert all(ticket.number in msg.get_body((kind,)).get_content() for kind in ("plain", "html"))
    sent = Outbox.get_by_id(row.id)
    assert sent.status == OutboxStatus.SENT and sent.attempts == 1 and sent.sent_at
    assert sent.provider_id == "250 2.0.0 queued as 1"


def test_connection_is_kept_and_reopened(backend, ticket, caplog):
    """One connection across rounds; when the relay restarts, the next send reconnects by itself."""
    caplog.set_level(logging.INFO, logger="helpline.notifier")
    first = RelaySink().start()
    host, port = first.address.rsplit(":", 1)
    second = None
    settings = backend.replace(smtp_relay=first.address)
    sender = EmailSender(settings)
    try:
        for n in range(3):
            _ack(ticket, n)
        assert deliver_due(settings, sender).sent == 3
        _ack(ticket, 3)
        assert deliver_due(settings, sender).sent == 1
        assert len(first.wait_for(4)) == 4
        assert _connects(caplog) == 1
        first.stop()  # the kept connection is now dead
        second = RelaySink(host, int(port)).start()
        _ack(ticket, 4)
        assert deliver_due(settings, sender).sent == 1
        assert len(second.wait_for(1)) == 1
        assert _connects(caplog) == 2
    finally:
        sender.close()
        if second is not None:
            second.stop()
    assert Outbox.select().where(Outbox.status == OutboxStatus.SENT, Outbox.attempts == 1).count() == 5


def test_idle_connection_is_checked_with_noop(backend, ticket, caplog):
    caplog.set_level(logging.INFO, logger="helpline.notifier")
    first = RelaySink().start()
    host, port = first.address.rsplit(":", 1)
    settings = backend.replace(smtp_relay=first.address)
    sender = EmailSender(settings, idle_check_s=0)  # every reuse counts as idle here
    second = None
    try:
        _ack(ticket, 0)
        assert deliver_due(settings, sender).sent == 1
        _ack(ticket, 1)
        assert deliver_due(settings, sender).sent == 1  # NOOP passed: same connection
        assert _connects(caplog) == 1
        first.stop()
        second = RelaySink(host, int(port)).start()
        _ack(ticket, 2)
        assert deliver_due(settings, sender).sent == 1  # NOOP failed: reconnected before sending
        assert _connects(caplog) == 2
    finally:
        sender.close()
        if second is not None:
            second.stop()


@pytest.mark.parametrize(
    "change,hint",
    [
        (dict(smtp_relay_user="bob", smtp_relay_password="hunter2-secret"), "HELPLINE_SMTP_RELAY_STARTTLS"),
        (dict(smtp_relay_starttls=True, smtp_relay_password="hunter2-secret"), "does not offer STARTTLS"),
    ],
)
def test_relay_configuration_problems_are_temporary_and_explained(backend, ticket, relay_sink, caplog, change, hint):
    caplog.set_level(logging.DEBUG)
    settings = backend.replace(smtp_relay=relay_sink.address, **change)
    row = _ack(ticket)
    report = deliver_due(settings, EmailSender(settings))
    assert (report.sent, report.retry) == (0, 1)
    again = Outbox.get_by_id(row.id)
    assert again.status == OutboxStatus.PENDING and hint in again.last_error
    assert "hunter2" not in again.last_error and "hunter2" not in caplog.text
    assert relay_sink.received == []


def _connects(caplog) -> int:
    return sum("event=smtp_connected" in r.getMessage() for r in caplog.records)


def test_relay_451_is_temporary(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    relay_sink.fail_with = "451 4.3.0 try later"
    row = _ack(ticket)
    before = utcnow()
    sender = EmailSender(settings)
    report = deliver_due(settings, sender)
    assert (report.claimed, report.sent, report.retry, report.failed) == (1, 0, 1, 0)
    again = Outbox.get_by_id(row.id)
    assert again.status == OutboxStatus.PENDING and again.attempts == 1
    assert again.next_attempt_at > before
    assert "451" in again.last_error
    assert Event.select().count() == 0
    # The relay recovers: the row goes out on the same, still usable, connection.
    relay_sink.fail_with = None
    assert deliver_due(settings, sender).claimed == 0  # not due yet
    Outbox.update(next_attempt_at=utcnow()).where(Outbox.id == row.id).execute()
    assert deliver_due(settings, sender).sent == 1
    sender.close()
    assert Outbox.get_by_id(row.id).attempts == 2


def test_relay_550_is_permanent(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    relay_sink.fail_with = "550 5.7.1 relaying denied"
    row = _ack(ticket)
    sender = EmailSender(settings)
    report = deliver_due(settings, sender)
    sender.close()
    assert (report.sent, report.retry, report.failed) == (0, 0, 1)
    failed = Outbox.get_by_id(row.id)
    assert failed.status == OutboxStatus.FAILED and "550" in failed.last_error
    (event,) = Event.select()
    assert event.kind == "outbox_failed" and event.data["reason"] == "permanent"


def test_relay_unreachable_is_temporary_for_the_whole_batch(backend, ticket):
    settings = backend.replace(smtp_relay=f"127.0.0.1:{_closed_port()}")
    rows = [_ack(ticket, n) for n in range(3)]
    report = deliver_due(settings, EmailSender(settings))
    assert (report.claimed, report.sent, report.retry, report.failed) == (3, 0, 3, 0)
    for row in rows:
        again = Outbox.get_by_id(row.id)
        assert again.status == OutboxStatus.PENDING and again.attempts == 1
        assert "unreachable" in again.last_error and again.next_attempt_at > again.updated_at


def test_no_relay_configured_leaves_rows_pending(backend, ticket):
    settings = backend.replace(smtp_relay="")
    row = _ack(ticket)
    sender = EmailSender(settings)
    assert not sender.configured
    for _ in range(3):
        report = deliver_due(settings, sender)
        assert (report.claimed, report.sent, report.skipped) == (0, 0, "relay_not_configured")
    assert deliver_one(settings, sender, row.id).claimed == 0
    again = Outbox.get_by_id(row.id)
    assert again.status == OutboxStatus.PENDING and again.attempts == 0 and again.last_error == ""


def test_deliver_one(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    a, b = _ack(ticket, 0), _ack(ticket, 1)
    sender = EmailSender(settings)
    report = deliver_one(settings, sender, b.id)
    sender.close()
    assert (report.claimed, report.sent) == (1, 1)
    assert Outbox.get_by_id(b.id).status == OutboxStatus.SENT
    assert Outbox.get_by_id(a.id).status == OutboxStatus.PENDING
    assert relay_sink.wait_for(1)[0].message()["Message-ID"] == b.message_id


def test_sender_error_classes(backend, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address, smtp_relay_password="hunter2-secret")
    sender = EmailSender(settings)
    assert "hunter2" not in repr(sender)
    payload = {
        "from": "support@example.com",
        "to": "a@customer.example",
        "subject": "s",
        "text": "t",
        "message_id": "<hl.t@example.com>",
    }
    relay_sink.fail_with = "452 4.3.1 insufficient storage"
    with pytest.raises(TemporaryFailure) as temp:
        sender.send(payload)
    assert "452" in str(temp.value) and not isinstance(temp.value, RelayUnavailable)
    relay_sink.fail_with = "554 5.6.0 message refused"
    with pytest.raises(PermanentFailure, match="554"):
        sender.send(payload)
    relay_sink.fail_with = None
    with pytest.raises(PermanentFailure, match="no recipient"):
        sender.send({**payload, "to": ""})
    assert sender.send(payload).startswith("250 ")  # the connection survived the failures
    sender.close()
    unreachable = EmailSender(settings.replace(smtp_relay=f"127.0.0.1:{_closed_port()}"))
    with pytest.raises(RelayUnavailable) as down:
        unreachable.send(payload)
    assert "hunter2" not in str(down.value) and "HELPLINE_SMTP_RELAY" in str(down.value)


class _CountingSender(EmailSender):
    """The real EmailSender, counting what goes through this instance."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        super().__init__(settings)
        self.sent: list[str] = []

    def send(self, payload):  # noqa: ANN001, ANN201
        self.sent.append(payload["to"])
        return super().send(payload)


def test_followups_go_through_the_callers_senders(backend, ticket, relay_sink):
    """A sent row's follow-up is tried at once through the senders the caller passes, not through
    senders kept anywhere else; a channel the caller has no sender for waits for its delivery round."""
    settings = backend.replace(smtp_relay=relay_sink.address)
    follow = render_ack(
        ticket_number=ticket.number,
        subject="Re: Printer broken",
        customer_name="Bob",
        support_address="support@example.com",
        recipient="bob@customer.example",
        in_reply_to="<bob@customer.example>",
        references=[],
        message_id=make_message_id("example.com", ticket.number),
    )
    row = _ack(ticket, 1)
    specs = [
        {
            "channel": "email",
            "kind": "ack",
            "recipient": "bob@customer.example",
            "unique_key": "copy",
            "payload": follow,
        },
        {"channel": "sms", "kind": "sms", "recipient": "+15550100", "unique_key": "text", "payload": {}},
    ]
    with db.write_tx():
        Outbox.update(payload={**row.payload, "on_sent": specs}).where(Outbox.id == row.id).execute()
    first, theirs = EmailSender(settings), _CountingSender(settings)
    report = deliver_one(settings, first, row.id, senders={"email": theirs})
    first.close()
    theirs.close()
    assert report.sent == 1
    assert theirs.sent == ["bob@customer.example"]  # the follow-up, through the caller's sender
    assert len(relay_sink.wait_for(2)) == 2
    copy = Outbox.get(Outbox.unique_key == f"copy:{row.id}")
    text = Outbox.get(Outbox.unique_key == f"text:{row.id}")
    assert copy.status == OutboxStatus.SENT and text.status == OutboxStatus.PENDING
