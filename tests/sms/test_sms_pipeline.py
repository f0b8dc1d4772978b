"""SMS through intake and the worker pipeline (no broker): tickets, threading,
keywords, acknowledgements, MMS media, and the opt-out rules, on both backends."""

from __future__ import annotations

import datetime as dt

from helpline.notifier.sms import sms_optout
from helpline.store import models as m
from helpline.store.channels.sms_state import SmsMedia, SmsOptOut

from ..support.fake_twilio import OUR_NUMBER, inbound_form
from ..workers.builders import event_kinds, events, reload, set_status

ALICE = "+14155550123"
BOB = "+14155550199"


def outbox_rows(**where) -> list[m.Outbox]:  # noqa: ANN003
    q = m.Outbox.select().where(m.Outbox.channel == "sms")
    for k, v in where.items():
        q = q.where(getattr(m.Outbox, k) == v)
    return list(q.order_by(m.Outbox.id))


# ---- tickets and threading -------------------------------------------------------------
def test_new_text_opens_a_ticket_and_gets_an_acknowledgement(sms, fake_twilio):
    out = sms.text("Hi, my order 4711 has not arrived yet", sender="+1 (415) 555-0123")
    assert out.action == "created"
    t = m.Ticket.get_by_id(out.ticket_id)
    assert (t.channel, t.subject, t.status) == ("sms", "Hi, my order 4711 has not arrived yet", "new")
    ident = m.Identity.get(m.Identity.customer == t.customer)
    assert (ident.kind, ident.address) == ("phone", ALICE)
    part = m.Participant.get(m.Participant.ticket == t)
    assert (part.kind, part.address, part.role) == ("phone", ALICE, "sender")
    msg = m.Message.get((m.Message.ticket == t) & (m.Message.direction == "in"))
    assert (msg.channel, msg.sender, msg.text) == ("sms", ALICE, "Hi, my order 4711 has not arrived yet")
    assert m.Inbound.get_by_id(msg.inbound_id).status == "processed"
    # the acknowledgement: queued in the same transaction, sent to the Twilio API, SID kept
    ack = outbox_rows(kind="ack")[0]
    (call,) = fake_twilio.wait_for(1)
    assert (call.to, call.form["From"]) == (ALICE, OUR_NUMBER)
    assert t.number in call.body and "4711" not in call.body  # never echoes the customer's text
    assert reload_outbox(ack).status == "sent" and reload_outbox(ack).provider_id == call.sid
    assert call.form["StatusCallback"] == f"https://help.example.com/twilio/status?ref=ack%3A{t.id}"
    assert ack.payload["segments"] == 1 and ack.payload["encoding"] == "GSM-7"
    assert "ack_queued" in event_kinds(t)


def reload_outbox(row: m.Outbox) -> m.Outbox:
    return m.Outbox.get_by_id(row.id)


def test_follow_up_text_joins_the_open_ticket_and_is_not_acknowledged_again(sms, fake_twilio):
    first = sms.text("My order has not arrived")
    second = sms.text("It was order number 4711, by the way")
    assert second.action == "appended" and second.ticket_id == first.ticket_id
    assert len(fake_twilio.wait_for(1)) == 1 and not second.outbox_ids
    assert len(m.Message.select().where(m.Message.ticket == first.ticket_id, m.Message.direction == "in")) == 2
    # another customer's text is another ticket
    other = sms.text("Hello, a question about my bill", sender=BOB)
    assert other.action == "created" and other.ticket_id != first.ticket_id


def test_resolved_ticket_reopens_within_the_window_and_a_new_one_follows_after_it(sms):
    t = m.Ticket.get_by_id(sms.text("Where is my parcel?").ticket_id)
    set_status(t, m.TicketStatus.RESOLVED, resolved_ago=dt.timedelta(days=2))
    again = sms.text("It is still not here")
    assert again.action == "reopened" and again.ticket_id == t.id and reload(t).status == "open"
    set_status(t, m.TicketStatus.RESOLVED, resolved_ago=dt.timedelta(days=30))
    later = sms.text("A new problem with the invoice")
    assert later.action == "created" and later.ticket_id != t.id
    new = m.Ticket.get_by_id(later.ticket_id)
    assert new.follow_up_of_id == t.id
    # the conversation now leads to the new ticket
    assert sms.text("And the amount is wrong").ticket_id == new.id


def test_text_joins_the_most_recently_active_open_ticket(sms):
    first = m.Ticket.get_by_id(sms.text("First problem").ticket_id)
    set_status(first, m.TicketStatus.CLOSED, resolved_ago=dt.timedelta(days=40))
    second = sms.text("Second problem")
    assert second.action == "created"
    first = reload(first)
    first.status = m.TicketStatus.OPEN  # an agent reopens the old one by hand
    first.save()
    assert sms.text("More about the second problem").ticket_id == second.ticket_id


# ---- keywords -------------------------------------------------------------------------------
def test_stop_opts_out_opens_no_ticket_and_nothing_is_texted_again(sms, fake_twilio):
    t = sms.text("My order is late").ticket_id
    fake_twilio.wait_for(1)
    out = sms.text("STOP")
    assert out.action == "sms_keyword" and out.ticket_id is None and not out.outbox_ids
    row = m.Inbound.select().order_by(m.Inbound.id.desc()).get()
    assert row.status == "processed" and row.ticket_id is None and "opted out" in row.reason
    assert SmsOptOut.get_by_id(ALICE).opted_out and sms_optout.is_opted_out(ALICE)
    (ev,) = events(t, "sms_opted_out")
    assert ev.data["number"] == ALICE and ev.data["keyword"] == "STOP" and ev.data["source"] == "keyword"
    assert m.Ticket.select().count() == 1
    # HELP from an opted-out number is not answered; a new text opens a ticket but gets no acknowledgement
    assert sms.text("HELP").outbox_ids == []
    new = sms.text("Something else entirely")
    assert new.action in ("appended", "created") and not new.outbox_ids
    assert len(fake_twilio.created) == 1


def test_start_opts_in_again_but_a_plain_yes_is_an_answer(sms, fake_twilio):
    t = sms.text("Can you refund me?").ticket_id
    yes = sms.text("Yes")  # never opted out: an answer to the agent, on the ticket
    assert yes.action == "appended" and yes.ticket_id == t
    assert sms.text("stop").action == "sms_keyword"
    start = sms.text("Start")
    assert start.action == "sms_keyword" and not SmsOptOut.get_by_id(ALICE).opted_out
    assert [e.kind for e in events(t) if e.kind.startswith("sms_opted")] == ["sms_opted_out", "sms_opted_in"]


def test_help_is_answered_with_the_help_text(sms, fake_twilio):
    desk = sms.configured(sms_help_text="Acme support: text us your question. Reply STOP to opt out.")
    out = desk.text("help", sender=BOB)
    assert out.action == "sms_keyword" and m.Ticket.select().count() == 0
    (call,) = fake_twilio.wait_for(1)
    assert (call.to, call.body) == (BOB, "Acme support: text us your question. Reply STOP to opt out.")
    (row,) = outbox_rows(kind="help")
    assert row.status == "sent" and row.ticket_id is None


def test_help_text_comes_from_a_template_operators_can_override_per_language(sms, fake_twilio, tmp_path):
    (tmp_path / "templates" / "de").mkdir(parents=True)
    (tmp_path / "templates" / "de" / "sms_help.txt").write_text("Acme-Hilfe: schreiben Sie uns. STOP beendet.\n")
    (tmp_path / "helpline.toml").write_text(f'templates_dir = "{tmp_path / "templates"}"\n')
    desk = sms.configured(config_file=str(tmp_path / "helpline.toml"), sms_help_text="Acme support. Reply STOP.")
    ticket_id = desk.text("Wo ist mein Paket?", sender=BOB).ticket_id
    m.Ticket.update(language="de").where(m.Ticket.id == ticket_id).execute()
    desk.text("HELP", sender=BOB)
    assert fake_twilio.wait_for(2)[-1].body == "Acme-Hilfe: schreiben Sie uns. STOP beendet."
    desk.text("HELP", sender=ALICE)  # no German ticket: the bundled template, which is the setting
    assert fake_twilio.wait_for(3)[-1].body == "Acme support. Reply STOP."


def test_keywords_twilio_already_answered_are_recorded_without_a_reply(sms, fake_twilio):
    help_ = sms.text("HELP", opt_out_type="HELP")
    assert help_.action == "sms_keyword" and not help_.outbox_ids
    stop = sms.text("ARRET", opt_out_type="STOP")  # an Advanced Opt-Out custom keyword
    assert stop.action == "sms_keyword" and SmsOptOut.get_by_id(ALICE).source == "twilio"
    start = sms.text("Yes", opt_out_type="START")
    assert start.action == "sms_keyword" and not sms_optout.is_opted_out(ALICE)
    assert fake_twilio.created == [] and m.Ticket.select().count() == 0 and not outbox_rows()
    kinds = [e.kind for e in m.Event.select().order_by(m.Event.id)]
    assert kinds == ["sms_help", "sms_opted_out", "sms_opted_in"]


def test_help_replies_are_rate_limited(sms, fake_twilio):
    desk = sms.configured(autoreply_limit=2)
    for _ in range(4):
        desk.text("HELP")
    assert len(fake_twilio.wait_for(2)) == 2
    assert len(outbox_rows(kind="help")) == 2


def test_acknowledgement_can_be_turned_off(sms, fake_twilio):
    out = sms.configured(sms_ack=False).text("No ack please")
    assert out.action == "created" and not out.outbox_ids and not outbox_rows()
    (ev,) = events(out.ticket_id, "ack_suppressed")
    assert "HELPLINE_SMS_ACK" in ev.data["reason"]


# ---- sending rules ------------------------------------------------------------------------------
def test_a_number_that_opts_out_after_a_reply_was_queued_gets_nothing(sms, fake_twilio):
    desk = sms.configured(twilio_auth_token="")  # sender not configured yet: the ack waits in the outbox
    out = desk.run(desk.accept(inbound_form("Where is my parcel?")))
    (ack,) = outbox_rows(kind="ack")
    assert ack.status == "pending"
    sms.text("STOP")
    sms.send(out)
    ack = reload_outbox(ack)
    assert ack.status == "failed" and "opted out" in ack.last_error
    assert fake_twilio.created == []


# ---- MMS -------------------------------------------------------------------------------------------
def test_mms_media_are_fetched_by_the_worker_into_the_message_attachments(sms, fake_twilio):
    jpeg = b"\xff\xd8\xff\xe0" + b"photo" * 2000
    png = b"\x89PNG\r\n\x1a\n" + b"scan" * 500
    urls = [fake_twilio.add_media(jpeg, "image/jpeg"), fake_twilio.add_media(png, "image/png")]
    out = sms.text("Here are photos of the damage", media=[(urls[0], "image/jpeg"), (urls[1], "image/png")])
    assert out.action == "created" and len(out.media_ids) == 2
    msg = m.Message.get((m.Message.ticket == out.ticket_id) & (m.Message.direction == "in"))
    assert list(msg.attachments) == []  # nothing downloaded inside the webhook or the transaction
    assert sms.fetch_media(out)["stored"] == 2
    atts = sorted(msg.attachments, key=lambda a: a.filename)
    assert [(a.filename, a.content_type, a.size) for a in atts] == [
        ("mms-1.jpg", "image/jpeg", len(jpeg)),
        ("mms-2.png", "image/png", len(png)),
    ]
    assert sms.intake.blobs.get(atts[0].blob_key) == jpeg
    # fetching again (a redelivered queue message, the sweep) stores nothing twice
    assert sms.fetch_media(out)["stored"] == 0 and len(list(msg.attachments)) == 2
    assert len(fake_twilio.media_fetches) == 2


def test_media_over_the_size_cap_is_recorded_not_stored(sms, fake_twilio):
    desk = sms.configured(mms_max_bytes=1000)
    url = fake_twilio.add_media(b"v" * 5000, "video/mp4")
    out = desk.text("A video of the noise", media=[(url, "video/mp4")])
    assert desk.fetch_media(out) == {"stored": 0, "retry": 0, "failed": 0, "too_large": 1}
    (media,) = SmsMedia.select()
    assert media.status == "too_large" and "HELPLINE_MMS_MAX_BYTES=1000" in media.last_error
    assert "mms_media_too_large" in event_kinds(out.ticket_id)
    assert m.Attachment.select().count() == 0


def test_media_url_off_the_twilio_host_is_never_fetched_with_credentials(sms, fake_twilio):
    out = sms.text("look", media=[("https://evil.example/steal", "image/jpeg")])
    assert sms.fetch_media(out)["failed"] == 1
    assert SmsMedia.get().status == "failed" and fake_twilio.media_fetches == []


def test_missing_media_fails_and_unreachable_api_is_retried_by_the_sweep(sms, fake_twilio):
    gone = fake_twilio.url + "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME404"
    out = sms.text("first", media=[(gone, "image/jpeg")])
    assert sms.fetch_media(out)["failed"] == 1
    desk = sms.configured(twilio_api_url="http://127.0.0.1:9", pending_after_s=0)
    out = desk.text("second", sender=BOB, media=[("http://127.0.0.1:9/2010-04-01/x", "image/jpeg")])
    assert desk.fetch_media(out)["retry"] == 1
    from helpline.notifier.sms import sms_media

    for _ in range(desk.settings.max_attempts):
        sms_media.fetch_stale(desk.settings, desk.intake.blobs)
    row = SmsMedia.get(SmsMedia.id == out.media_ids[0])
    assert row.status == "failed" and "gave up after" in row.last_error


def test_short_code_sender_gets_no_automatic_text(sms, fake_twilio):
    out = sms.text("Your verification code is 123456", sender="72345")
    assert out.action == "created" and not out.outbox_ids
    (ev,) = events(out.ticket_id, "ack_suppressed")
    assert "no phone number" in ev.data["reason"]
    assert sms.text("HELP", sender="72345").outbox_ids == [] and fake_twilio.created == []
