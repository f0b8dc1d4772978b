"""Outbound SMS: the real twilio client against the local Twilio API, the outbox
states it leads to, and the delivery status callbacks."""

from __future__ import annotations

import pytest

from helpline.notifier import deliver, outbox
from helpline.notifier.sms import sms_optout
from helpline.notifier.sms.sms_sender import SmsSender, sms_payload
from helpline.notifier.sms.sms_status import record_status
from helpline.store import db
from helpline.store import models as m
from helpline.store.inbound import message_state

from ..workers.builders import events

ALICE = "+14155550123"


def queue_reply(ticket_id: int, to: str, body: str, *, key: str, explicit: bool = False) -> int:
    """What an agent's reply on an SMS ticket writes: an outbound message and its outbox row."""

    def tx() -> int:
        msg = message_state.add_outbound(
            ticket_id,
            channel="sms",
            author_role="agent",
            message_id="",
            sender="",
            subject="",
            text=body,
            now=m.utcnow(),
        )
        return outbox.enqueue(
            channel="sms",
            kind="reply",
            recipient=to,
            unique_key=key,
            ticket=ticket_id,
            out_message=msg,
            payload=sms_payload(to, body, ref=key, explicit=explicit),
        ).id

    return db.run_tx(tx)


@pytest.fixture
def ticket(sms, fake_twilio) -> int:
    """A ticket opened by Alice's text; its acknowledgement already went out."""
    out = sms.text("My order has not arrived")
    fake_twilio.wait_for(1)
    fake_twilio.created.clear()
    return out.ticket_id


def send(sms, outbox_id: int) -> deliver.DeliveryReport:
    return deliver.deliver_one(sms.settings, sms.sender, outbox_id)


def test_reply_reaches_the_api_with_from_to_body_and_the_sid_is_kept(sms, fake_twilio, ticket):
    oid = queue_reply(ticket, ALICE, "Your parcel left our warehouse today.", key="reply:1")
    assert send(sms, oid).sent == 1
    (call,) = fake_twilio.created
    assert (call.form["From"], call.form["To"], call.form["Body"]) == (
        "+15005550006",
        ALICE,
        "Your parcel left our warehouse today.",
    )
    assert call.auth.startswith("Basic ")
    row = m.Outbox.get_by_id(oid)
    assert (row.status, row.provider_id) == ("sent", call.sid)


def test_messaging_service_is_used_instead_of_a_number(sms, fake_twilio, ticket):
    sender = SmsSender(sms.settings.replace(twilio_messaging_service_sid="MG" + "a" * 32))
    oid = queue_reply(ticket, ALICE, "Hello from the pool", key="reply:mg")
    assert deliver.deliver_one(sms.settings, sender, oid).sent == 1
    (call,) = fake_twilio.created
    assert call.form["MessagingServiceSid"] == "MG" + "a" * 32 and "From" not in call.form


def test_long_reply_goes_in_numbered_parts(sms, fake_twilio, ticket):
    body = " ".join(f"Step {i}: open the settings page and check the value of option {i}." for i in range(40))
    oid = queue_reply(ticket, ALICE, body, key="reply:long")
    assert send(sms, oid).sent == 1
    calls = fake_twilio.created
    assert len(calls) == 2 and calls[0].body.startswith("(1/2) Step 0:") and calls[1].body.startswith("(2/2) ")
    assert m.Outbox.get_by_id(oid).provider_id == f"{calls[0].sid},{calls[1].sid}"
    assert m.Outbox.get_by_id(oid).payload["segments"] >= 15


def test_21610_marks_the_number_opted_out_and_fails_the_row(sms, fake_twilio, ticket):
    fake_twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    oid = queue_reply(ticket, ALICE, "Any news?", key="reply:2")
    assert send(sms, oid).failed == 1
    row = m.Outbox.get_by_id(oid)
    assert row.status == "failed" and "21610" in row.last_error and "opted out" in row.last_error
    assert sms_optout.is_opted_out(ALICE)
    assert [e.data["source"] for e in events(ticket, "sms_opted_out")] == ["carrier"]
    # and nothing more goes to it
    oid = queue_reply(ticket, ALICE, "Hello?", key="reply:3")
    assert send(sms, oid).failed == 1 and len(fake_twilio.created) == 0
    assert "opted out" in m.Outbox.get_by_id(oid).last_error


@pytest.mark.parametrize(
    "status, code, outcome",
    [
        (429, 20429, "pending"),
        (500, 20500, "pending"),
        (503, 20503, "pending"),
        (400, 21211, "failed"),
        (404, 20404, "failed"),
        (401, 20003, "pending"),
    ],
)
def test_error_classes(sms, fake_twilio, ticket, status, code, outcome):
    fake_twilio.fail_next(status, code, "error")
    oid = queue_reply(ticket, ALICE, "Update on your order", key=f"reply:{status}")
    send(sms, oid)
    row = m.Outbox.get_by_id(oid)
    assert row.status == outcome and f"error {code}" in row.last_error
    if status == 401:
        assert "HELPLINE_TWILIO_AUTH_TOKEN" in row.last_error


def test_unreachable_api_is_a_temporary_failure(sms, ticket):
    sender = SmsSender(sms.settings.replace(twilio_api_url="http://127.0.0.1:9"), timeout=2)
    oid = queue_reply(ticket, ALICE, "Hello", key="reply:down")
    assert deliver.deliver_one(sms.settings, sender, oid).retry == 1
    row = m.Outbox.get_by_id(oid)
    assert row.status == "pending" and "unreachable" in row.last_error


def test_a_number_that_never_texted_in_is_only_texted_by_explicit_action(sms, fake_twilio, ticket):
    stranger = "+14155550177"
    oid = queue_reply(ticket, stranger, "Hello stranger", key="reply:stranger")
    assert send(sms, oid).failed == 1 and "never texted in" in m.Outbox.get_by_id(oid).last_error
    oid = queue_reply(ticket, stranger, "Hello, as you asked on the phone", key="reply:explicit", explicit=True)
    assert send(sms, oid).sent == 1 and fake_twilio.created[0].to == stranger


def test_unconfigured_sender_leaves_rows_waiting(sms, ticket):
    sender = SmsSender(sms.settings.replace(twilio_from=""))
    oid = queue_reply(ticket, ALICE, "Hello", key="reply:wait")
    assert deliver.deliver_one(sms.settings, sender, oid).skipped == "provider_not_configured"
    assert m.Outbox.get_by_id(oid).status == "pending"


# ---- status callbacks -----------------------------------------------------------------
def test_status_callbacks_are_recorded_in_order_only(sms, fake_twilio, ticket):
    oid = queue_reply(ticket, ALICE, "Your refund is on its way.", key="reply:st")
    send(sms, oid)
    sid = fake_twilio.created[0].sid
    row = m.Outbox.get_by_id(oid)
    assert record_status("reply:st", sid, "sent") == "recorded"
    assert record_status("reply:st", sid, "delivered") == "recorded"
    assert record_status("reply:st", sid, "sent") == "ignored"  # late, out of order
    assert record_status("reply:st", sid, "delivered") == "ignored"  # repeated
    assert m.Message.get_by_id(row.out_message_id).delivery_status == "delivered"
    assert [e.data["status"] for e in events(ticket, "sms_delivered")] == ["delivered"]
    assert m.Outbox.get_by_id(oid).status == "sent"
    assert record_status("", "SM" + "0" * 32, "delivered") == "unknown"


def test_undelivered_callback_fails_the_row_with_the_error_code(sms, fake_twilio, ticket):
    oid = queue_reply(ticket, ALICE, "Your refund is on its way.", key="reply:und")
    send(sms, oid)
    sid = fake_twilio.created[0].sid
    # without the ref (a Messaging Service's own callback URL), the SID finds the row
    assert record_status("", sid, "undelivered", "30003", "Unreachable destination handset") == "recorded"
    row = m.Outbox.get_by_id(oid)
    assert row.status == "failed" and "30003" in row.last_error
    assert m.Message.get_by_id(row.out_message_id).delivery_status == "undelivered"
    (ev,) = events(ticket, "delivery_failed")
    assert ev.data["error_code"] == "30003" and ev.data["sid"] == sid
    assert record_status("", sid, "delivered") == "ignored"  # a failure is not overwritten
