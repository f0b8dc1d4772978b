"""The thread, dedupe and customer stages: which ticket, a copy or not, who the customer is."""

from __future__ import annotations

from helpline.store import models as m
from tests.workers.builders import ALICE_ADDR, ack_message_id, mail, quoted


def test_a_reply_to_our_acknowledgement_threads_to_the_ticket(sd):
    ticket, first = sd.desk.new_ticket()
    raw, _ = mail(
        subject=f"Re: [{ticket.number}] Order never arrived",
        body=quoted("Any news?"),
        in_reply_to=ack_message_id(ticket),
        references=[first, ack_message_id(ticket)],
    )
    ctx = sd.until(sd.context(raw), "thread")
    d = sd.run("thread", ctx)
    assert d is not None and d.what == "append"
    assert ctx.decision.ticket_id == ticket.id
    assert ctx.customer is not None and ctx.customer.id == ticket.customer_id  # the identity is known
    assert ctx.known  # the acknowledgement's Message-ID already points at the ticket


def test_a_strangers_guessed_ticket_tag_opens_a_linked_new_ticket(sd):
    ticket, _ = sd.desk.new_ticket()
    raw, _ = mail(sender="Mallory <mallory@example.net>", subject=f"Re: [{ticket.number}] Order never arrived")
    ctx = sd.until(sd.context(raw), "thread")
    d = sd.run("thread", ctx)
    assert d is not None and d.what == "new_possible_follow_up"  # evidence counts only from participants
    assert ctx.decision.ticket_id == ticket.id
    assert ctx.customer is None


def test_the_same_text_again_is_a_duplicate(sd):
    raw, _ = mail(body="Where is my order 4711?\n")
    first = sd.process(raw)
    assert first.action == "created"
    again, _ = mail(body="Where is my order 4711?\n")  # a second copy under a new Message-ID
    ctx = sd.until(sd.context(again), "dedupe")
    d = sd.run("dedupe", ctx)
    assert d is not None and d.outcome is not None
    assert (d.outcome.action, d.outcome.ticket_id) == ("duplicate", first.ticket_id)
    assert m.Inbound.get_by_id(ctx.row.id).status == "duplicate"


def test_a_new_text_is_no_duplicate(sd):
    sd.process(mail()[0])
    ctx = sd.until(sd.context(mail()[0]), "dedupe")
    d = sd.run("dedupe", ctx)
    assert d is None or d.outcome is None
    assert ctx.fingerprint is not None  # a message that opens a ticket keeps its signature for later stages


def test_the_customer_stage_makes_a_new_sender_a_customer_once(sd):
    ctx = sd.until(sd.context(mail()[0]), "customer")
    assert ctx.customer is None
    d = sd.run("customer", ctx)
    assert d is not None and d.what == "new"
    assert ctx.customer is not None
    ident = m.Identity.get(m.Identity.address == ALICE_ADDR)
    assert ident.customer_id == ctx.customer.id

    known = sd.until(sd.context(mail()[0]), "customer")
    assert known.customer is not None and known.customer.id == ctx.customer.id
    assert sd.run("customer", known) is None  # a known sender: nothing to decide
