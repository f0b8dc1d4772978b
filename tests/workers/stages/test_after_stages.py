"""slack_notice, ack and webhooks: what the customer, the agents and a source's app hear, after the message."""

from __future__ import annotations

from helpline.store import models as m
from tests.workers.builders import events, mail

from .conftest import sms


def test_slack_notice_needs_a_slack_bot(sd):
    ctx = sd.until(sd.context(mail()[0]), "slack_notice")
    assert sd.run("slack_notice", ctx) is None
    assert m.Outbox.select().where(m.Outbox.channel == "slack").count() == 0


def test_slack_notice_queues_the_new_ticket_for_agents(sd):
    sd = sd.configured(slack_bot_token="xoxb-test", slack_channel="C0SUPPORT")
    ctx = sd.until(sd.context(mail()[0]), "slack_notice")
    d = sd.run("slack_notice", ctx)
    assert d is not None and d.what == "queued"
    assert ctx.outcome.outbox_ids
    assert m.Outbox.get_by_id(ctx.outcome.outbox_ids[0]).channel == "slack"


def test_slack_notice_is_silent_during_an_import(sd):
    sd = sd.configured(slack_bot_token="xoxb-test", slack_channel="C0SUPPORT")
    ctx = sd.until(sd.context(mail()[0], quiet=True), "slack_notice")
    assert sd.run("slack_notice", ctx) is None


def test_ack_acknowledges_a_new_email_ticket_once(sd):
    ctx = sd.until(sd.context(mail()[0]), "ack")
    d = sd.run("ack", ctx)
    assert d is not None and d.what == "queued"
    (row,) = [*ctx.outcome.claimed, *(m.Outbox.get_by_id(i) for i in ctx.outcome.outbox_ids)]
    assert (row.kind, row.channel, row.recipient) == ("ack", "email", "alice@example.org")
    assert "ack_queued" in [e.kind for e in events(ctx.ticket.id)]


def test_ack_does_not_answer_a_reply(sd):
    ticket, first = sd.desk.new_ticket()
    raw, _ = mail(subject=f"Re: [{ticket.number}] Order never arrived", in_reply_to=first, references=[first])
    ctx = sd.until(sd.context(raw), "ack")
    assert sd.run("ack", ctx) is None


def test_ack_of_an_sms_ticket_is_a_text_not_an_email(sd):
    ctx = sd.until(sd.context(sms("My parcel did not arrive")), "ack")
    d = sd.run("ack", ctx)
    assert d is not None
    (row,) = [m.Outbox.get_by_id(i) for i in ctx.outcome.outbox_ids]
    assert (row.channel, row.kind, row.recipient) == ("sms", "ack", "+15551230001")
    assert not ctx.outcome.claimed


def test_ack_records_mms_media_to_fetch(sd):
    env = sms("photo of the damage", media=[{"url": "https://api.twilio.test/media/ME1", "content_type": "image/jpeg"}])
    ctx = sd.until(sd.context(env), "ack")
    sd.run("ack", ctx)
    assert len(ctx.outcome.media_ids) == 1


def test_ack_is_silent_during_an_import(sd):
    ctx = sd.until(sd.context(mail()[0], quiet=True), "ack")
    assert sd.run("ack", ctx) is None
    assert m.Outbox.select().count() == 0


def test_webhooks_do_nothing_for_mail_without_callbacks(sd):
    ctx = sd.until(sd.context(mail()[0]), "webhooks")
    before = list(ctx.outcome.outbox_ids)  # the acknowledgement
    assert sd.run("webhooks", ctx) is None
    assert ctx.outcome.outbox_ids == before
    assert m.Outbox.select().where(m.Outbox.channel == "webhook").count() == 0
