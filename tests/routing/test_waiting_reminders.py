"""The reminder to a customer a ticket waits on goes out on the ticket's own channel:
email (text and HTML), SMS through the Twilio API (never to an opted-out number), the
customer's own Slack thread, and the webhook source's callback. Tickets come in
through the real pipeline; the scheduler's job runs at instants the test sets."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.notifier.deliver import deliver_due, deliver_one
from helpline.notifier.senders import make_senders
from helpline.notifier.templates import build_email
from helpline.store import models as m
from helpline.store.config import Settings
from helpline.workers.tickets import ticket_ops
from helpline.workers.jobs import ticket_timers

from ..slack.conftest import deliver_slack, fake_slack, slack_settings  # noqa: F401 (fixtures)
from ..slack.test_slack_customers import CARLA, CUSTOMERS, customer_says, posts_in
from ..slack.test_slack_replies import Team
from ..sms.conftest import SmsDesk, twilio_settings
from ..support.fake_twilio import OUR_NUMBER
from ..webhook.support import SOURCES, message
from ..webhook.test_webhook_tickets import HookDesk
from ..workers.builders import Desk, events, passed
from .conftest import in_tx

DAY = dt.timedelta(days=1)


def remind(settings: Settings, ticket_id: int) -> dict[str, int]:
    """The agent asks the customer something; two days later the scheduler's lifecycle job runs."""
    start = m.utcnow()
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket_id),
            "waiting_customer",
            now=start,
            settings=settings,
            actor="agent",
            reason="asked for the order number",
        )
    )
    s = settings.replace(waiting_reminder_days=2, waiting_resolve_days=5)
    return ticket_timers.lifecycle_timers(s, clock=lambda: start + 2 * DAY)


def reminders(ticket_id: int) -> list[m.Outbox]:
    return list(m.Outbox.select().where((m.Outbox.ticket == ticket_id) & (m.Outbox.kind == "reminder")))


def reminded(ticket_id: int) -> dict:
    (ev,) = events(ticket_id, "waiting_reminder")
    return ev.data


def test_email_reminder_has_text_and_html_threaded_and_auto_generated(backend):
    # authenticated by the trusted MTA: the reminder may greet Ann and repeat her subject
    # (tests/security/test_notice_backscatter.py: not to a sender nobody vouched for)
    desk = Desk(backend).authenticated()
    ticket, mid = desk.new_ticket(
        sender="Ann Lee <ann@example.org>", subject="Order 4711 never arrived", headers=passed()
    )
    assert remind(desk.settings, ticket.id)["reminded"] == 1
    (row,) = reminders(ticket.id)
    assert (row.channel, row.recipient) == ("email", "ann@example.org")
    msg = build_email(row.payload)
    assert msg.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in msg.iter_parts())
    assert text.startswith("Hello Ann Lee,") and "in 3 days" in text and ticket.number in text
    assert "<p>Hello Ann Lee,</p>" in html and "in 3 days" in html
    assert msg["In-Reply-To"] == mid and msg["Auto-Submitted"] == "auto-generated"
    assert msg["Subject"] == f"[{ticket.number}] Re: Order 4711 never arrived"
    assert reminded(ticket.id) == {"sent": True, "channel": "email", "resolves_in_days": 3.0}
    out = m.Message.get(m.Message.id == row.out_message_id)
    assert (out.direction, out.author_role, out.channel) == ("out", "system", "email")


def test_email_reminder_in_the_tickets_language(backend):
    desk = Desk(backend).authenticated()
    ticket, _ = desk.new_ticket(sender="Jan Berg <jan@example.de>", subject="Rechnung", headers=passed("example.de"))
    m.Ticket.update(language="de").where(m.Ticket.id == ticket.id).execute()
    remind(desk.settings, ticket.id)
    (row,) = reminders(ticket.id)
    assert row.payload["text"].startswith("Hallo Jan Berg,") and "in 3 Tagen" in row.payload["text"]
    assert '<html lang="de">' in row.payload["html"]


def test_no_reminder_to_a_no_reply_address(backend):
    desk = Desk(backend)
    ticket, _ = desk.new_ticket(sender="noreply@shop.example", subject="Your order")
    assert remind(desk.settings, ticket.id)["reminded"] == 1  # the ticket was handled: once
    assert reminders(ticket.id) == []
    assert reminded(ticket.id) == {"sent": False, "reason": "noreply_sender", "resolves_in_days": 3.0}


@pytest.fixture
def sms(backend, fake_twilio):  # noqa: F811
    return SmsDesk(twilio_settings(backend, fake_twilio))


def test_sms_reminder_goes_by_text_from_the_number_they_wrote_to(sms, fake_twilio):  # noqa: F811
    out = sms.text("My order has not arrived")
    fake_twilio.wait_for(1)  # the acknowledgement
    ticket = m.Ticket.get_by_id(out.ticket_id)
    remind(sms.settings, ticket.id)
    (row,) = reminders(ticket.id)
    assert (row.channel, row.recipient) == ("sms", "+14155550123")
    assert deliver_one(sms.settings, sms.sender, row.id).sent == 1
    call = fake_twilio.wait_for(2)[-1]
    assert (call.to, call.form["From"]) == ("+14155550123", OUR_NUMBER)
    assert ticket.number in call.body and "in 3 days" in call.body and "has not arrived" not in call.body
    assert reminded(ticket.id) == {"sent": True, "channel": "sms", "resolves_in_days": 3.0}


def test_no_sms_reminder_to_a_number_that_opted_out(sms, fake_twilio):  # noqa: F811
    ticket_id = sms.text("Can you refund me?", sender="+14155550199").ticket_id
    assert sms.text("STOP", sender="+14155550199").action == "sms_keyword"
    remind(sms.settings, ticket_id)
    assert reminders(ticket_id) == []
    assert reminded(ticket_id) == {"sent": False, "reason": "the number opted out of SMS", "resolves_in_days": 3.0}
    assert len(fake_twilio.created) == 1  # the acknowledgement only


@pytest.fixture
def slack_team(slack_settings, relay_sink, fake_slack):  # noqa: F811
    fake_slack.add_user(CARLA, "Carla Customer", "carla@client.example")
    t = Team(slack_settings.replace(slack_intake_channels=(CUSTOMERS,)), relay_sink, fake_slack)
    yield t
    t.close()


def test_slack_reminder_goes_into_the_customers_own_thread(slack_team):
    root, (created,) = customer_says(slack_team, "Our SSO login fails since the update")
    ticket = m.Ticket.get_by_id(created.ticket_id)
    before = len(posts_in(slack_team, CUSTOMERS, root))  # the acknowledgement
    remind(slack_team.settings, ticket.id)
    (row,) = reminders(ticket.id)
    assert (row.channel, row.recipient) == ("slack", CUSTOMERS)
    deliver_slack(slack_team.settings)
    posted = posts_in(slack_team, CUSTOMERS, root)
    assert len(posted) == before + 1
    assert ticket.number in posted[-1] and "in 3 days" in posted[-1] and "SSO" not in posted[-1]
    assert reminded(ticket.id) == {"sent": True, "channel": "slack", "resolves_in_days": 3.0}
    out = m.Message.get(m.Message.id == row.out_message_id)
    assert (out.direction, out.author_role, out.channel) == ("out", "system", "slack")


def test_webhook_reminder_reaches_the_source_as_a_system_message(backend, receiver):
    desk = HookDesk(backend.replace(webhook_sources=SOURCES, webhook_callbacks=f"shop={receiver.url}"))
    ticket = m.Ticket.get_by_id(desk.hook(message()).ticket_id)
    remind(desk.settings, ticket.id)
    hooks = m.Outbox.select().where((m.Outbox.ticket == ticket.id) & (m.Outbox.channel == "webhook"))
    (row,) = [r for r in hooks if r.payload["body"].get("message", {}).get("author_role") == "system"]
    assert deliver_due(desk.settings, make_senders(desk.settings)["webhook"]).sent >= 1
    event = next(e for e in receiver.events() if e["id"] == row.payload["event_id"])
    assert event["type"] == "ticket.replied" and event["ticket"]["number"] == ticket.number
    assert event["message"]["author_role"] == "system" and "in 3 days" in event["message"]["text"]
    assert reminded(ticket.id) == {"sent": True, "channel": "webhook", "resolves_in_days": 3.0}


def test_a_webhook_source_without_a_callback_reminds_by_email(backend):
    desk = HookDesk(backend.replace(webhook_sources=SOURCES))
    ticket_id = desk.hook(message()).ticket_id
    remind(desk.settings, ticket_id)
    (row,) = reminders(ticket_id)
    assert (row.channel, row.recipient) == ("email", "ann@example.org") and row.payload["html"]
    assert reminded(ticket_id)["channel"] == "email"
