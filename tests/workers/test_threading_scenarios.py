"""Real mail through intake and the worker pipeline, on SQLite and PostgreSQL.

Each test starts from raw RFC 5322 bytes as a mail client or MTA writes them,
lets ``EmailIntake`` make them a durable inbound row, runs the pipeline the
way the actor does, and reads the result from the database.
"""

from __future__ import annotations

import datetime as dt

from helpline.store import models as m
from helpline.workers import pipeline

from .builders import (
    ALICE_ADDR,
    ack_message_id,
    ack_of,
    ack_raw,
    counts,
    dsn,
    event_kinds,
    events,
    inbound_messages,
    mail,
    new_message_id,
    outlook_root,
    quoted,
    reload,
    set_status,
    thread_index,
)

BOB = "Bob Colleague <bob@example.org>"
MALLORY = "Mallory <mallory@elsewhere.example>"


def _reply_to_ack(ticket, first, text):
    """The customer's answer to our acknowledgement, as her mail client writes it."""
    ack = ack_message_id(ticket)
    return mail(
        subject=f"Re: [{ticket.number}] Order never arrived",
        body=quoted(text),
        in_reply_to=ack,
        references=[first, ack],
    )[0]


# ---- replies to our acknowledgement --------------------------------------------------------
def test_reply_to_acknowledgement_lands_on_same_ticket(desk):
    ticket, first = desk.new_ticket(subject="Cannot log in")
    ack = ack_message_id(ticket)
    raw, _ = mail(
        subject=f"Re: [{ticket.number}] Re: Cannot log in",
        body=quoted("It still fails."),
        in_reply_to=ack,
        references=[first, ack],
    )

    outcome = desk.receive(raw)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert outcome.reason.startswith("references")
    assert m.Ticket.select().count() == 1
    assert [x.text for x in inbound_messages(ticket)][1] == "It still fails."
    assert outcome.outbox_ids == [] and m.Outbox.select().count() == 1  # no second acknowledgement


def test_acknowledgement_message_id_is_on_the_outbound_message_row(desk):
    ticket, _ = desk.new_ticket()
    out = m.Message.get((m.Message.ticket == ticket) & (m.Message.direction == "out"))
    assert f"<{out.message_id}>" == ack_message_id(ticket).lower()
    assert ack_of(ticket).out_message_id == out.id


def test_reply_from_the_reply_to_address_lands_on_same_ticket(desk):
    ticket, first = desk.new_ticket(headers={"Reply-To": "Alice at work <alice.work@corp.example>"})
    assert ack_of(ticket).recipient == "alice.work@corp.example"
    ack = ack_message_id(ticket)
    raw, _ = mail(
        sender="Alice Customer <alice.work@corp.example>",
        subject=f"Re: [{ticket.number}] Order",
        body=quoted("Sorry, answering from my work account."),
        in_reply_to=ack,
        references=[first, ack],
    )

    outcome = desk.receive(raw)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert m.Ticket.select().count() == 1


def test_reply_from_a_linked_identity_of_the_customer_lands_on_same_ticket(desk):
    ticket, first = desk.new_ticket()
    m.Identity.create(customer=ticket.customer_id, kind="email", address="alice.home@example.net")
    ack = ack_message_id(ticket)
    raw, _ = mail(
        sender="Alice <alice.home@example.net>",
        subject=f"Re: [{ticket.number}] Order",
        body=quoted("Writing from home now."),
        in_reply_to=ack,
        references=[first, ack],
    )

    outcome = desk.receive(raw)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert m.Ticket.select().count() == 1


# ---- outsiders never write into someone else's ticket -----------------------------------------
def test_forward_by_a_colleague_opens_a_possible_follow_up(desk):
    ticket, first = desk.new_ticket(subject="Invoice 2026-17 is wrong")
    ack = ack_message_id(ticket)
    raw, _ = mail(
        sender=BOB,
        subject=f"Fwd: [{ticket.number}] Re: Invoice 2026-17 is wrong",
        body="Hi, I am Alice's colleague; same problem here.\n\n---------- Forwarded message ---------\n"
        "From: Support <support@example.com>\nThank you for contacting us.\n",
        references=[first, ack],
    )

    outcome = desk.receive(raw)

    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    new = m.Ticket.get_by_id(outcome.ticket_id)
    assert new.possible_follow_up is True
    assert new.follow_up_of_id == ticket.id
    assert [e.data["ticket"] for e in events(new, "possible_follow_up")] == [ticket.id]
    assert len(inbound_messages(ticket)) == 1  # nothing written into Alice's ticket


def test_subject_tag_from_a_stranger_opens_a_possible_follow_up(desk):
    ticket, _ = desk.new_ticket(subject="Refund for order 4711")
    raw, _ = mail(
        sender=MALLORY,
        subject=f"AW: [{ticket.number}] Refund for order 4711",
        body="Please send the refund to my account instead.\n",
    )

    outcome = desk.receive(raw)

    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    new = m.Ticket.get_by_id(outcome.ticket_id)
    assert (new.possible_follow_up, new.follow_up_of_id) == (True, ticket.id)
    assert new.subject == "Refund for order 4711"
    assert len(inbound_messages(ticket)) == 1


def test_subject_tag_with_localised_prefix_from_the_customer_lands_on_ticket(desk):
    ticket, _ = desk.new_ticket(subject="Rechnung fehlt")
    raw, _ = mail(subject=f"AW: [{ticket.number}] Rechnung fehlt", body="Die Rechnung fehlt immer noch.\n")

    outcome = desk.receive(raw)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert outcome.reason.startswith("ticket_tag")
    assert m.Ticket.select().count() == 1


# ---- conversations we joined late ----------------------------------------------------------------
def test_reply_with_unknown_references_root_opens_a_new_ticket(desk):
    root, parent = new_message_id("partner.example"), new_message_id("partner.example")
    raw, _ = mail(
        sender="Carol <carol@partner.example>",
        to="Dave <dave@partner.example>",
        cc="support@example.com",
        subject="Re: Delivery schedule",
        body=quoted("Adding support, they can confirm the date."),
        in_reply_to=parent,
        references=[root, parent],
    )

    outcome = desk.receive(raw)

    assert outcome.action == "created"
    ticket = m.Ticket.get_by_id(outcome.ticket_id)
    assert ticket.subject == "Delivery schedule"
    assert (ticket.follow_up_of_id, ticket.possible_follow_up) == (None, False)


def test_second_reply_in_a_thread_we_joined_late_joins_its_ticket(desk):
    root, parent = new_message_id("partner.example"), new_message_id("partner.example")
    carol = "Carol <carol@partner.example>"
    first, _ = mail(
        sender=carol,
        cc="support@example.com",
        subject="Re: Delivery schedule",
        in_reply_to=parent,
        references=[root, parent],
    )
    ticket_id = desk.receive(first).ticket_id
    unseen = new_message_id("partner.example")  # a message of the thread support never got
    second, _ = mail(
        sender=carol,
        cc="support@example.com",
        subject="Re: Delivery schedule",
        body=quoted("Dave says Thursday works."),
        in_reply_to=unseen,
        references=[root, unseen],
    )

    outcome = desk.receive(second)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket_id)
    assert m.Ticket.select().count() == 1


# ---- client quirks -----------------------------------------------------------------------------
def test_outlook_reply_with_only_thread_index_lands_on_same_ticket(desk):
    root = outlook_root()
    ticket, _ = desk.new_ticket(
        sender="Paul Novak <paul@fabrikam.example>",
        subject="VPN access",
        headers={
            "Thread-Topic": "VPN access",
            "Thread-Index": thread_index(root),
            "X-Mailer": "Microsoft Outlook 16.0",
        },
    )
    raw, _ = mail(
        sender="Paul Novak <paul@fabrikam.example>",
        subject="RE: VPN access",
        body="Still no VPN access since this morning.\n\nPaul\n",
        headers={
            "Thread-Topic": "VPN access",
            "Thread-Index": thread_index(root, b"\x00\x00\x85\x2e\x30"),
            "X-Mailer": "Microsoft Outlook 16.0",
        },
    )

    outcome = desk.receive(raw)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert outcome.reason.startswith("thread_index")


def _via_list_mail(**kw):
    headers = {
        "X-Original-From": "Alice Customer <alice@example.org>",
        "Reply-To": "alice@example.org",
        "List-Id": "<support-list.lists.example>",
        "Precedence": "list",
    }
    return mail(
        sender='"Alice Customer via Support" <support-list@lists.example>',
        to="support-list@lists.example",
        headers=headers,
        **kw,
    )


def test_mailing_list_via_rewriting_makes_the_original_author_the_customer(desk):
    raw, _ = _via_list_mail(subject="Cannot export PDF", body="The PDF export button does nothing.\n")

    outcome = desk.receive(raw)

    ticket = m.Ticket.get_by_id(outcome.ticket_id)
    assert {i.address for i in ticket.customer.identities} == {ALICE_ADDR}
    assert m.Message.get((m.Message.ticket == ticket) & (m.Message.direction == "in")).sender == ALICE_ADDR


def test_direct_reply_after_a_list_via_mail_lands_on_same_ticket(desk):
    raw, list_mid = _via_list_mail(subject="Cannot export PDF", body="The PDF export button does nothing.\n")
    ticket_id = desk.receive(raw).ticket_id
    reply, _ = mail(
        subject="Re: Cannot export PDF",
        body=quoted("It also fails for PNG."),
        in_reply_to=list_mid,
        references=[list_mid],
    )

    outcome = desk.receive(reply)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket_id)
    assert m.Ticket.select().count() == 1


# ---- our own mail ---------------------------------------------------------------------------
def test_our_own_acknowledgement_coming_back_is_ignored(desk):
    ticket, _ = desk.new_ticket()
    before = counts()

    outcome = desk.receive(ack_raw(ticket), mail_from="support@example.com")

    assert outcome.action == "own_mail"
    after = counts()
    assert after["Ticket"] == before["Ticket"]
    assert after["Outbox"] == before["Outbox"]  # no acknowledgement of our acknowledgement
    assert after["Message"] == before["Message"]


# ---- the signed reply token ------------------------------------------------------------------
def _reply_token_address(ticket) -> str:
    return ack_of(ticket).payload["headers"]["Reply-To"]


def test_reply_to_the_signed_reply_address_alone_lands_on_ticket(desk):
    ticket, _ = desk.new_ticket(subject="Broken charger")
    address = _reply_token_address(ticket)
    assert address.startswith(f"support+t{ticket.id}.") and address.endswith("@example.com")
    raw, _ = mail(to=address, subject="my charger", body="Here is the serial number: 8812-AB.\n")

    outcome = desk.receive(raw, rcpt=address)

    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert outcome.reason.startswith("reply_token")


def test_forged_reply_token_does_not_reach_the_ticket(desk):
    ticket, _ = desk.new_ticket(subject="Broken charger")
    forged = f"support+t{ticket.id}.aaaaaaaaaaaaaaaa@example.com"
    assert forged != _reply_token_address(ticket)
    raw, _ = mail(to=forged, subject="my charger", body="Here is the serial number: 8812-AB.\n")

    outcome = desk.receive(raw, rcpt=forged)

    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    assert m.Ticket.get_by_id(outcome.ticket_id).follow_up_of_id is None
    assert len(inbound_messages(ticket)) == 1


# ---- resolved and closed tickets ----------------------------------------------------------
def test_reply_to_a_recently_resolved_ticket_reopens_it(desk):
    ticket, first = desk.new_ticket()
    set_status(ticket, m.TicketStatus.RESOLVED)

    outcome = desk.receive(_reply_to_ack(ticket, first, "Sorry, it happened again."))

    assert (outcome.action, outcome.ticket_id) == ("reopened", ticket.id)
    ticket = reload(ticket)
    assert (ticket.status, ticket.resolved_at) == (m.TicketStatus.OPEN, None)
    assert "ticket_reopened" in event_kinds(ticket)
    assert m.Ticket.select().count() == 1


def test_reply_after_the_reopen_window_opens_a_follow_up(desk):
    ticket, first = desk.new_ticket()
    set_status(ticket, m.TicketStatus.RESOLVED, resolved_ago=dt.timedelta(days=desk.settings.reopen_days + 1))

    outcome = desk.receive(_reply_to_ack(ticket, first, "The same problem is back."))

    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    new = m.Ticket.get_by_id(outcome.ticket_id)
    assert (new.follow_up_of_id, new.possible_follow_up) == (ticket.id, False)
    assert reload(ticket).status == m.TicketStatus.RESOLVED
    assert "ticket_reopened" not in event_kinds(ticket)


def test_reply_to_a_closed_ticket_opens_a_follow_up(desk):
    ticket, first = desk.new_ticket()
    set_status(ticket, m.TicketStatus.CLOSED)

    outcome = desk.receive(_reply_to_ack(ticket, first, "The same problem is back."))

    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    new = m.Ticket.get_by_id(outcome.ticket_id)
    assert (new.follow_up_of_id, new.possible_follow_up) == (ticket.id, False)
    assert reload(ticket).status == m.TicketStatus.CLOSED
    assert len(inbound_messages(ticket)) == 1


def test_next_reply_after_a_follow_up_joins_the_follow_up(desk):
    ticket, first = desk.new_ticket()
    set_status(ticket, m.TicketStatus.CLOSED)
    follow_up = desk.receive(_reply_to_ack(ticket, first, "The same problem is back.")).ticket_id

    outcome = desk.receive(_reply_to_ack(ticket, first, "And now the screen is black too."))

    assert (outcome.action, outcome.ticket_id) == ("appended", follow_up)
    assert m.Ticket.select().count() == 2


# ---- delivery status notifications -----------------------------------------------------------
def _assert_ack_bounced(ticket, outcome, before):
    assert (outcome.action, outcome.ticket_id) == ("bounce", ticket.id)
    assert ack_of(ticket).status == m.OutboxStatus.FAILED
    out = m.Message.get((m.Message.ticket == ticket) & (m.Message.direction == "out"))
    assert out.delivery_status == "failed"
    assert len(events(ticket, "delivery_failed")) == 1
    assert m.Ticket.select().count() == before["Ticket"]


def test_bounce_with_the_returned_message_fails_the_acknowledgement(desk):
    ticket, _ = desk.new_ticket()
    before = counts()

    outcome = desk.receive(dsn(ack_raw(ticket), form="message/rfc822"), mail_from="")

    _assert_ack_bounced(ticket, outcome, before)


def test_bounce_with_the_returned_headers_fails_the_acknowledgement(desk):
    ticket, _ = desk.new_ticket()
    before = counts()

    outcome = desk.receive(dsn(ack_raw(ticket), form="text/rfc822-headers"), mail_from="")

    _assert_ack_bounced(ticket, outcome, before)


def test_second_bounce_for_the_same_message_opens_no_ticket(desk):
    ticket, _ = desk.new_ticket()
    desk.receive(dsn(ack_raw(ticket)), mail_from="")
    before = counts()

    # After a crash between send and "sent" the outbox sends the email again with the
    # same Message-ID (ARCHITECTURE.md, "No double sends"), so both copies can bounce.
    outcome = desk.receive(dsn(ack_raw(ticket)), mail_from="")

    assert outcome.action == "bounce"
    assert m.Ticket.select().count() == before["Ticket"]
    assert len(events(ticket, "delivery_failed")) == 1


def test_delay_notice_does_not_fail_the_acknowledgement(desk):
    ticket, _ = desk.new_ticket()
    before = counts()

    desk.receive(dsn(ack_raw(ticket), form="text/rfc822-headers", action="delayed", status="4.4.1"), mail_from="")

    assert ack_of(ticket).status == m.OutboxStatus.PENDING  # still being retried by the relay: not failed
    assert m.Message.get((m.Message.ticket == ticket) & (m.Message.direction == "out")).delivery_status != "failed"
    assert events(ticket, "delivery_failed") == []
    assert m.Ticket.select().count() == before["Ticket"]


# ---- near-duplicates ---------------------------------------------------------------------------
def test_same_text_again_under_a_new_message_id_is_a_duplicate(desk):
    body = "Hello,\n\nmy invoice 2026-17 shows the wrong VAT number.\n\nAlice\n"
    ticket, _ = desk.new_ticket(subject="Wrong VAT number", body=body)
    raw, _ = mail(subject="Wrong VAT number", body=body)  # the client sent it again
    inbound_id = desk.deliver(raw)

    outcome = desk.run(inbound_id)

    assert (outcome.action, outcome.ticket_id) == ("duplicate", ticket.id)
    assert m.Inbound.get_by_id(inbound_id).status == m.InboundStatus.DUPLICATE
    assert [e.data["inbound"] for e in events(ticket, "duplicate_received")] == [inbound_id]
    assert m.Ticket.select().count() == 1
    assert m.Outbox.select().count() == 1


def test_same_short_reply_to_two_different_tickets_reaches_both(desk):
    a, first_a = desk.new_ticket(subject="Order 4711 missing")
    b, first_b = desk.new_ticket(subject="Password reset mail missing")
    assert desk.receive(_reply_to_ack(a, first_a, "Thank you, that fixed it!")).ticket_id == a.id

    outcome = desk.receive(_reply_to_ack(b, first_b, "Thank you, that fixed it!"))  # a minute later

    assert (outcome.action, outcome.ticket_id) == ("appended", b.id)
    assert [x.text for x in inbound_messages(b)][-1] == "Thank you, that fixed it!"
    assert events(a, "duplicate_received") == []


# ---- at-least-once delivery, processed once -------------------------------------------------------
def test_processing_the_same_row_twice_changes_nothing(desk):
    raw, _ = mail()
    inbound_id = desk.deliver(raw)
    first = desk.run(inbound_id)
    before = counts()

    again = pipeline.process(inbound_id, desk.settings)

    assert (again.action, again.ticket_id) == ("noop", first.ticket_id)
    assert again.outbox_ids == []
    assert counts() == before


def test_a_worker_that_keeps_dying_gets_its_row_quarantined(desk):
    raw, _ = mail()
    inbound_id = desk.deliver(raw)
    for _ in range(desk.settings.max_attempts):  # each try counted, then the worker was killed
        assert pipeline.begin_attempt(inbound_id, desk.settings.max_attempts) is None

    outcome = pipeline.begin_attempt(inbound_id, desk.settings.max_attempts)

    assert outcome is not None and outcome.action == "quarantined"
    row = m.Inbound.get_by_id(inbound_id)
    assert row.status == m.InboundStatus.QUARANTINED
    assert row.attempts == desk.settings.max_attempts
    assert "worker died" in row.reason
    assert m.Ticket.select().count() == 0
    assert pipeline.process(inbound_id, desk.settings).action == "noop"


# ---- acknowledgement loop protection ---------------------------------------------------------
def test_auto_submitted_mail_opens_a_ticket_without_acknowledgement(desk):
    raw, _ = mail(headers={"Auto-Submitted": "auto-replied"})

    outcome = desk.receive(raw)

    assert outcome.action == "created" and outcome.outbox_ids == []
    suppressed = events(outcome.ticket_id, "ack_suppressed")
    assert [e.data["reason"] for e in suppressed] == ["auto_submitted"]
    assert "ack_queued" not in event_kinds(outcome.ticket_id)
    assert m.Outbox.select().count() == 0


def test_third_new_ticket_from_one_address_within_the_hour_gets_no_acknowledgement(desk):
    desk = desk.configured(autoreply_limit=2)
    tickets = [desk.new_ticket(subject=f"Question {n}")[0] for n in range(3)]

    assert [m.Outbox.select().where(m.Outbox.ticket == t).count() for t in tickets] == [1, 1, 0]
    assert [e.data["reason"] for e in events(tickets[2], "ack_suppressed")] == ["rate_limited_address"]
    assert "ack_queued" not in event_kinds(tickets[2])
