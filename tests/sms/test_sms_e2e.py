"""SMS end to end through the real processes: the ingest daemon's public listener
takes Twilio-signed webhooks over HTTP, the Dramatiq workers make tickets,
texts reach the local Twilio API, MMS media are fetched into attachments."""

from __future__ import annotations

import pytest

from helpline.store import models as m
from helpline.store.channels.sms_state import SmsOptOut

from ..support.fake_twilio import OUR_NUMBER, inbound_form, post_signed, status_form
from ..support.stack import Stack, wait_until
from .conftest import twilio_settings

ALICE = "+14155550123"
BOB = "+14155550199"


@pytest.fixture
def stack(backend, fake_twilio, tmp_path):
    s = Stack(twilio_settings(backend, fake_twilio), tmp_path)
    s.start_ingest().start_worker(processes=1, threads=2)
    yield s
    s.stop()


def test_sms_through_the_running_stack(stack, fake_twilio):
    base = f"http://{stack.settings.http_listen}"

    # a new text: 200 with empty TwiML, a ticket, the acknowledgement at the Twilio API
    first = inbound_form("Hi, my router keeps dropping the connection", sender="+1 415-555-0123")
    resp = post_signed(base, "/twilio/sms", first)
    assert resp.status_code == 200 and resp.text.endswith("<Response/>")
    (ack,) = fake_twilio.wait_for(1)
    ticket = m.Ticket.get()
    assert (ticket.channel, ack.to, ack.form["From"]) == ("sms", ALICE, OUR_NUMBER)
    assert ticket.number in ack.body

    # the same webhook again, and a forged one: no new rows
    assert post_signed(base, "/twilio/sms", first).status_code == 200
    assert post_signed(base, "/twilio/sms", inbound_form("forged"), signature="Zm9yZ2Vk").status_code == 403

    # a follow-up MMS joins the ticket and its photo becomes an attachment
    photo = b"\xff\xd8\xff\xe0" + b"router-lights" * 300
    url = fake_twilio.add_media(photo, "image/jpeg")
    mms = inbound_form("Here is a photo of the lights", media=[(url, "image/jpeg")])
    assert post_signed(base, "/twilio/sms", mms).status_code == 200
    att = wait_until(lambda: m.Attachment.get_or_none(), 30, what="the MMS photo stored")
    assert att.size == len(photo) and att.message.ticket_id == ticket.id and att.content_type == "image/jpeg"
    assert m.Inbound.select().count() == 2 and m.Ticket.select().count() == 1

    # delivery status of the acknowledgement, reported over the signed callback URL
    callback = ack.form["StatusCallback"]
    path = callback[len(stack.settings.public_url) :]
    assert post_signed(base, path, status_form(ack.sid, "delivered")).status_code == 200
    ack_row = m.Outbox.get(m.Outbox.kind == "ack")
    assert m.Message.get_by_id(ack_row.out_message_id).delivery_status == "delivered"

    # HELP from another number is answered; STOP opts Alice out and opens nothing
    assert post_signed(base, "/twilio/sms", inbound_form("HELP", sender=BOB)).status_code == 200
    help_call = fake_twilio.wait_for(2)[1]
    assert help_call.to == BOB and help_call.body == stack.settings.sms_help_text
    assert post_signed(base, "/twilio/sms", inbound_form("STOP")).status_code == 200
    wait_until(lambda: SmsOptOut.get_or_none(SmsOptOut.number == ALICE), 30, what="the opt-out recorded")
    wait_until(
        lambda: m.Inbound.select().where(m.Inbound.status == "pending").count() == 0,
        30,
        what="every inbound row processed",
    )
    assert m.Ticket.select().count() == 1 and len(fake_twilio.created) == 2
    (opted,) = m.Event.select().where(m.Event.kind == "sms_opted_out")
    assert opted.data["number"] == ALICE and opted.ticket_id == ticket.id
