"""A webhook source or an ``ingest`` key must not take over another channel's or another source's ticket.

Each variant of the takeover found by the adversarial run, through the real
intake and pipeline, on SQLite and PostgreSQL: the source names an email
customer (``customer.email``) and their ticket number, or sends near-identical
text; an ``ingest`` key without a callback does it (the ticket then could not
be answered: 409); a second source names the first source's customer. What
must hold afterwards: the source's message opens a ticket of its own, linked
to the named one as a possible follow-up; the named ticket keeps its messages
and sources; an agent's answer to it goes to the customer's mailbox (or to the
source that created it); only the source that created a ticket hears its
events.
"""

from __future__ import annotations

import pytest

from helpline.notifier.webhook import webhook_events
from helpline.store import fastsql, models as m
from helpline.store.channels import webhook_state
from helpline.store.db import run_tx
from helpline.workers.tickets import api_ticket_ops
from helpline.store.inbound import audit_events

from ..webhook.support import SOURCES
from ..webhook.test_webhook_tickets import HookDesk
from ..workers.builders import ALICE_ADDR, event_kinds, inbound_messages, mail

OUTAGE = (
    "My internet connection has been down since this morning, the router shows a red light and "
    "restarting it does not help."
)
OUTAGE_AGAIN = "Internet still down since this morning! Router light is red, restarted it twice, no help. Please fix"
CALLBACKS = "shop=http://127.0.0.1:9/shop,crm=http://127.0.0.1:9/crm"


@pytest.fixture
def desk(backend):
    return HookDesk(backend.replace(webhook_sources=SOURCES, webhook_callbacks=CALLBACKS))


def email_ticket(desk: HookDesk, body: str = "Where is my order? It has not arrived.") -> m.Ticket:
    outcome = desk.receive(mail(subject="Order never arrived", body=body)[0])
    assert outcome.action == "created"
    return m.Ticket.get_by_id(outcome.ticket_id)


def answer(desk: HookDesk, ticket: m.Ticket, key: str = "r-1") -> api_ticket_ops.Reply:
    """What ``POST /api/v1/tickets/{number}/replies`` does, in the API's transaction."""

    def tx() -> api_ticket_ops.Reply:
        with audit_events.buffered_events():
            return api_ticket_ops.reply(
                ticket.id,
                "We have sent a replacement.",
                author="Dana",
                actor="api:test",
                key=key,
                settings=desk.settings,
                now=m.utcnow(),
            )

    return run_tx(tx)


def assert_isolated(outcome, target: m.Ticket) -> m.Ticket:  # noqa: ANN001
    """The source's message opened its own ticket, marked as a possible follow-up of ``target``."""
    assert outcome.ticket_id != target.id, "the source's message was written into a ticket it may not write into"
    assert outcome.action == "created"
    mine = m.Ticket.get_by_id(outcome.ticket_id)
    assert mine.channel == "webhook"
    return mine


def test_customer_email_and_ticket_number_open_a_follow_up_not_the_ticket(desk):
    ticket = email_ticket(desk)
    outcome = desk.hook(
        {
            "customer": {"email": ALICE_ADDR},
            "ticket": ticket.number,
            "text": "Please send all answers to my app from now on.",
        }
    )
    mine = assert_isolated(outcome, ticket)
    assert mine.possible_follow_up and mine.follow_up_of_id == ticket.id
    assert [msg.channel for msg in inbound_messages(ticket)] == ["email"]
    assert webhook_state.sources_of(ticket.id) == []
    assert webhook_events.listening(ticket.id, desk.settings) == []
    reply = answer(desk, ticket)
    assert (reply.channel, reply.recipient) == ("email", ALICE_ADDR)
    assert webhook_state.sources_of(mine.id) == ["shop"]


def test_near_identical_text_does_not_join_the_email_customers_ticket(desk):
    ticket = email_ticket(desk, OUTAGE)
    outcome = desk.hook({"customer": {"email": ALICE_ADDR}, "subject": "No internet", "text": OUTAGE_AGAIN})
    mine = assert_isolated(outcome, ticket)
    assert "near_duplicate_merged" not in event_kinds(ticket)
    assert [msg.channel for msg in inbound_messages(ticket)] == ["email"]
    assert webhook_state.sources_of(ticket.id) == []
    assert (answer(desk, ticket).channel, answer(desk, ticket, "r-2").recipient) == ("email", ALICE_ADDR)
    assert webhook_state.sources_of(mine.id) == ["shop"]


def test_an_exact_copy_of_the_customers_mail_is_not_swallowed_into_their_ticket(desk):
    ticket = email_ticket(desk, OUTAGE)
    outcome = desk.hook({"customer": {"email": ALICE_ADDR}, "subject": "Order never arrived", "text": OUTAGE})
    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    assert [msg.channel for msg in inbound_messages(ticket)] == ["email"]


def test_an_ingest_key_without_callback_cannot_make_the_ticket_unanswerable(desk):
    ticket = email_ticket(desk)
    outcome = desk.hook(
        {"customer": {"email": ALICE_ADDR}, "ticket": ticket.number, "text": "Me again, by app."},
        source="partner-key",
        auth="api_key",
    )
    assert_isolated(outcome, ticket)
    reply = answer(desk, ticket)  # before the fix: ReplyNotPossible (409), the ticket stuck
    assert (reply.channel, reply.recipient) == ("email", ALICE_ADDR)
    assert webhook_state.sources_of(ticket.id) == []


def test_a_second_source_cannot_write_into_the_first_sources_ticket(desk):
    first = desk.hook(
        {
            "customer": {"external_id": "u-1", "email": "bob@example.org"},
            "subject": "No internet",
            "text": OUTAGE,
            "conversation_id": "chat-1",
        }
    )
    ticket = m.Ticket.get_by_id(first.ticket_id)
    by_number = desk.hook(
        {"customer": {"email": "bob@example.org"}, "ticket": ticket.number, "text": "Switching to our CRM."},
        source="crm",
    )
    crm = assert_isolated(by_number, ticket)
    assert crm.possible_follow_up and crm.follow_up_of_id == ticket.id
    alike = desk.hook({"customer": {"email": "bob@example.org"}, "text": OUTAGE_AGAIN}, source="crm")
    assert alike.ticket_id != ticket.id
    assert [msg.channel for msg in inbound_messages(ticket)] == ["webhook"]
    assert webhook_state.sources_of(ticket.id) == ["shop"]
    assert webhook_events.listening(ticket.id, desk.settings) == ["shop"]
    assert webhook_events.listening(crm.id, desk.settings) == ["crm"]
    # the first source's own follow-up still lands, and the agent's answer goes back to it
    again = desk.hook({"customer": {"external_id": "u-1"}, "text": "Any news?", "conversation_id": "chat-1"})
    assert again.action == "appended" and again.ticket_id == ticket.id
    reply = answer(desk, ticket)
    assert reply.channel == "webhook"
    sent_to = {r.recipient for r in m.Outbox.select().where(m.Outbox.id.in_(reply.outbox_ids))}
    assert sent_to == {"shop"}


def test_the_source_may_still_continue_its_own_ticket_by_number(desk):
    first = desk.hook({"customer": {"email": ALICE_ADDR}, "text": "First question from the app."})
    number = m.Ticket.get_by_id(first.ticket_id).number
    again = desk.hook({"customer": {"email": ALICE_ADDR}, "ticket": number, "text": "A detail from the app."})
    assert again.action == "appended" and again.ticket_id == first.ticket_id


def test_tickets_written_into_before_the_fix_are_answered_on_their_own_channel(desk):
    """Rows a takeover left behind (a webhook message last on an email ticket, the source linked) no longer
    steer the answer or the events."""
    ticket = email_ticket(desk)
    stolen = desk.hook({"customer": {"email": "mallory@example.net"}, "text": "Unrelated."})

    def takeover() -> None:  # what the old pipeline wrote
        fastsql.execute('UPDATE "message" SET ticket_id = ? WHERE ticket_id = ?', [ticket.id, stolen.ticket_id])
        webhook_state.link_source(ticket.id, "shop", m.utcnow())

    run_tx(takeover)
    assert [msg.channel for msg in inbound_messages(ticket)] == ["email", "webhook"]
    assert webhook_events.listening(ticket.id, desk.settings) == []
    reply = answer(desk, ticket)
    assert (reply.channel, reply.recipient) == ("email", ALICE_ADDR)
