"""triage, ticket, routing, participants, message and events: what a message that opens a ticket writes."""

from __future__ import annotations

import pytest

from helpline.store import models as m
from helpline.store.inbound import thread_state
from helpline.store.db import run_tx
from tests.workers.builders import events, mail


def test_triage_decides_a_new_tickets_category_and_priority_and_writes_nothing(sd):
    ctx = sd.until(sd.context(mail(subject="Refund please", body="I want a refund for order 12345.\n")[0]), "triage")
    before = (m.Ticket.select().count(), m.Event.select().count())
    d = sd.run("triage", ctx)
    assert d is not None and d.what == ctx.priority.level
    assert ctx.category["category"] == "cancellation_refund"
    assert ctx.signals is not None and ctx.signals.language == "en"
    assert (m.Ticket.select().count(), m.Event.select().count()) == before


def test_triage_of_a_reply_leaves_category_and_priority_alone(sd):
    ticket, first = sd.desk.new_ticket()
    raw, _ = mail(subject=f"Re: [{ticket.number}] Order never arrived", in_reply_to=first, references=[first])
    ctx = sd.until(sd.context(raw), "triage")
    assert sd.run("triage", ctx) is None
    assert ctx.category is None and ctx.priority is None and ctx.signals is not None


def test_the_ticket_stage_creates_the_ticket_with_triages_decisions_and_claims_its_keys(sd):
    ctx = sd.until(sd.context(mail(subject="Refund please", body="I want a refund for order 12345.\n")[0]), "ticket")
    d = sd.run("ticket", ctx)
    assert d is not None and d.what == "created" and ctx.outcome.action == "created"
    t = m.Ticket.get_by_id(ctx.ticket.id)
    assert (t.category, t.priority, t.language, t.support_address) == (
        "cancellation_refund",
        ctx.priority.level,
        "en",
        "support@example.com",
    )
    assert ["ticket_created", "priority_set", "language_set", "category_set"] == [e.kind for e in events(t)][:4]
    assert {k.key for k in m.ThreadKey.select().where(m.ThreadKey.ticket == t.id)} >= set(ctx.keys)


def test_a_thread_key_claimed_by_another_worker_first_fails_the_run(sd):
    """The race the pipeline re-runs on: another worker's ticket took a key of this conversation."""
    other, _ = sd.desk.new_ticket()
    ctx = sd.until(sd.context(mail()[0]), "ticket")
    run_tx(lambda: thread_state.add_thread_keys(other.id, ctx.keys))  # claimed after threading looked
    with pytest.raises(thread_state.KeyRace):
        sd.run("ticket", ctx)


def test_the_ticket_stage_reopens_a_resolved_ticket(sd):
    ticket, first = sd.desk.new_ticket()
    run_tx(lambda: m.Ticket.update(status="resolved", resolved_at=m.utcnow()).where(m.Ticket.id == ticket.id).execute())
    raw, _ = mail(subject=f"Re: [{ticket.number}] Order never arrived", in_reply_to=first, references=[first])
    ctx = sd.until(sd.context(raw), "ticket")
    d = sd.run("ticket", ctx)
    assert d is not None and d.what == "reopened"
    assert "ticket_reopened" in [e.kind for e in events(ticket)]


def test_routing_routes_a_new_ticket(sd):
    ctx = sd.until(sd.context(mail()[0]), "routing")
    d = sd.run("routing", ctx)
    assert d is not None and d.what == "routed"
    assert "routed" in [e.kind for e in events(ctx.ticket.id)]


def test_participants_include_ccd_outsiders_only_when_configured(sd):
    raw = mail(cc="Bob <bob@example.org>, Desk <other@example.com>")[0]
    plain = sd.until(sd.context(raw), "participants")
    sd.run("participants", plain)
    assert {p.address for p in m.Participant.select().where(m.Participant.ticket == plain.ticket.id)} == {
        "alice@example.org"
    }

    cc = sd.configured(cc_participants=True)
    ctx = cc.until(cc.context(mail(cc="Bob <bob@example.org>, Desk <other@example.com>")[0]), "participants")
    cc.run("participants", ctx)
    got = {p.address for p in m.Participant.select().where(m.Participant.ticket == ctx.ticket.id)}
    assert got == {"alice@example.org", "bob@example.org"}  # our own domain's address is no participant


def test_the_message_stage_stores_the_text_with_its_language(sd):
    ctx = sd.until(sd.context(mail(body="Hello, my parcel did not arrive. Can you check?\n")[0]), "message")
    assert sd.run("message", ctx) is None
    msg = m.Message.get_by_id(ctx.message_id)
    assert (msg.ticket_id, msg.inbound_id, msg.direction, msg.language) == (ctx.ticket.id, ctx.row.id, "in", "en")
    assert "parcel" in msg.text


def test_events_record_the_message_and_how_it_was_threaded(sd):
    ctx = sd.until(sd.context(mail()[0]), "events")
    sd.run("events", ctx)
    (received,) = events(ctx.ticket.id, "message_received")
    assert received.data == {"message": ctx.message_id, "channel": "email", "via": ctx.decision.reason}
