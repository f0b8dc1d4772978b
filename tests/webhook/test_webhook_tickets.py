"""Webhook messages through the worker pipeline: tickets, identities, metadata,
threading by conversation and by ticket reference, acknowledgements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from helpline.ingest.channels.webhook_api import register_builders
from helpline.store import models as m
from helpline.store.views import queries
from helpline.store.channels import webhook_state

from ..workers.builders import Desk, ack_of, event_kinds, mail, set_status
from .support import encode, message


class HookDesk(Desk):
    """The worker tests' desk (intake + pipeline in this process) that also takes webhook messages."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        super().__init__(settings)
        register_builders(self.intake)

    def post(self, body: dict[str, Any], *, source: str = "shop", key: str = "", auth: str = "signature") -> int:
        result = self.intake.accept_request(
            "webhook",
            encode(body),
            {"source": source, "auth": auth, "content_type": "application/json", "idempotency_key": key},
        )
        assert result.status == "accepted", result
        return result.inbound_id

    def hook(self, body: dict[str, Any], **kw: Any):  # noqa: ANN201
        return self.run(self.post(body, **kw))


def identities(ticket_id: int) -> set[tuple[str, str]]:
    t = m.Ticket.get_by_id(ticket_id)
    return {(i.kind, i.address) for i in m.Identity.select().where(m.Identity.customer == t.customer_id)}


def test_a_webhook_message_becomes_a_ticket_with_its_metadata(backend):
    desk = HookDesk(backend)
    outcome = desk.hook(message(metadata={"order": "4711", "plan": "gold"}))
    assert outcome.action == "created"
    ticket = m.Ticket.get_by_id(outcome.ticket_id)
    assert (ticket.channel, ticket.subject) == ("webhook", "Order 4711 has not arrived")
    assert identities(ticket.id) == {("email", "ann@example.org")}
    msg = m.Message.get(m.Message.ticket == ticket)
    assert (msg.channel, msg.sender, msg.author) == ("webhook", "ann@example.org", "Ann Customer")
    detail = queries.ticket_detail(ticket.number)
    assert detail["metadata"] == {"order": "4711", "plan": "gold"} and detail["sources"] == ["shop"]
    # no email acknowledgement unless the source asks: the app answers its user itself
    assert "ack_queued" not in event_kinds(ticket)
    assert m.Outbox.select().count() == 0


def test_acknowledgement_on_request_goes_to_the_vouched_address(backend):
    desk = HookDesk(backend)
    outcome = desk.hook(
        {
            "customer": {"external_id": "u-42", "email": "Ann@Example.org", "name": "Ann Customer"},
            "subject": "Login fails",
            "text": "I cannot log in since yesterday.",
            "acknowledge": True,
        }
    )
    ack = ack_of(outcome.ticket_id)
    assert ack.recipient == "ann@example.org"
    assert "Login fails" in ack.payload["subject"]  # a signed source vouches for the address: the subject may echo
    # asked for, but no email address: nothing to send, and no attempt
    other = desk.hook({"customer": {"phone": "+49 30 1234567"}, "text": "Call me back please", "acknowledge": True})
    assert m.Outbox.select().where(m.Outbox.ticket == other.ticket_id).count() == 0


def test_vouched_identities_are_linked_and_find_the_customer_again(backend):
    desk = HookDesk(backend)
    first = desk.hook(
        {
            "customer": {"external_id": "u-42", "email": "ann@example.org", "phone": "+4930 1234567", "name": "Ann"},
            "text": "First question about my invoice.",
        }
    )
    ticket = m.Ticket.get_by_id(first.ticket_id)
    assert identities(ticket.id) == {("external", "shop:u-42"), ("email", "ann@example.org"), ("phone", "+49301234567")}
    # Ann mails in from the same address: the same customer
    desk.receive(mail(sender="Ann <ann@example.org>", subject="Another thing", body="Hello, a different topic.\n")[0])
    t2 = m.Ticket.select().order_by(m.Ticket.id.desc()).get()
    assert t2.id != ticket.id and t2.customer_id == ticket.customer_id
    # another shop's user 42 is somebody else
    crm = desk.hook({"customer": {"external_id": "u-42"}, "text": "Hi from the CRM user 42"}, source="crm")
    assert m.Ticket.get_by_id(crm.ticket_id).customer_id != ticket.customer_id
    # a new external id that names Ann's email joins Ann
    joined = desk.hook({"customer": {"external_id": "u-99", "email": "ann@example.org"}, "text": "From my new account"})
    assert m.Ticket.get_by_id(joined.ticket_id).customer_id == ticket.customer_id
    assert ("external", "shop:u-99") in identities(ticket.id)


def test_an_identity_of_another_customer_is_never_moved(backend):
    desk = HookDesk(backend)
    bob = desk.hook({"customer": {"email": "bob@example.org"}, "text": "Bob writes"})
    eve = desk.hook({"customer": {"external_id": "eve-1", "phone": "+4930111111"}, "text": "Eve writes"})
    mixed = desk.hook({"customer": {"external_id": "eve-1", "email": "bob@example.org"}, "text": "Eve again"})
    assert m.Ticket.get_by_id(mixed.ticket_id).customer_id == m.Ticket.get_by_id(eve.ticket_id).customer_id
    assert ("email", "bob@example.org") in identities(bob.ticket_id)
    assert ("email", "bob@example.org") not in identities(eve.ticket_id)
    assert "identity_conflict" in event_kinds(mixed.ticket_id)


def test_threading_by_conversation_id_is_scoped_to_the_source(backend):
    desk = HookDesk(backend)
    first = desk.hook(message(conversation_id="chat-7"))
    follow = desk.hook(message(conversation_id="chat-7", text="Any news on this?", metadata={"order": "4712"}))
    assert follow.action == "appended" and follow.ticket_id == first.ticket_id
    assert webhook_state.fields_of(first.ticket_id) == {"order": "4712"}  # the newest value wins
    # the same conversation id from another source is another conversation
    other = desk.hook(message(conversation_id="chat-7", text="Hello from the CRM"), source="crm")
    assert other.action == "created"


def test_threading_by_ticket_reference_only_for_participants(backend):
    desk = HookDesk(backend)
    first = desk.hook(message())
    number = m.Ticket.get_by_id(first.ticket_id).number
    same = desk.hook({"customer": {"email": "ann@example.org"}, "text": "Adding a detail.", "ticket": number.lower()})
    assert same.action == "appended" and same.ticket_id == first.ticket_id
    # somebody else naming Ann's ticket number does not write into it
    stranger = desk.hook({"customer": {"email": "mallory@example.net"}, "text": "Let me in.", "ticket": number})
    assert stranger.action == "created" and stranger.ticket_id != first.ticket_id
    t = m.Ticket.get_by_id(stranger.ticket_id)
    assert t.possible_follow_up and t.follow_up_of_id == first.ticket_id


def test_a_follow_up_reopens_a_resolved_ticket(backend):
    desk = HookDesk(backend)
    first = desk.hook(message(conversation_id="c-1"))
    set_status(m.Ticket.get_by_id(first.ticket_id), "resolved", resolved_ago=dt.timedelta(days=1))
    again = desk.hook(message(conversation_id="c-1", text="It broke again."))
    assert again.action == "reopened" and m.Ticket.get_by_id(first.ticket_id).status == "open"


def test_the_forms_acknowledgement_repeats_nothing_from_the_form(backend):
    from helpline.ingest.channels.contact_form import register_builders as register_form

    desk = Desk(backend)
    register_form(desk.intake)
    raw, ctype = form_body(
        name="Buy Pills",
        email="victim@example.org",
        subject="CHEAP PILLS at pills.example",
        message="Visit pills.example now",
    )
    result = desk.intake.accept_request("form", raw, {"content_type": ctype, "nonce": "n1", "remote": "192.0.2.1"})
    outcome = desk.run(result.inbound_id)
    assert outcome.action == "created"
    ack = ack_of(outcome.ticket_id)
    number = m.Ticket.get_by_id(outcome.ticket_id).number
    assert ack.recipient == "victim@example.org"
    assert ack.payload["subject"] == f"[{number}] We have received your message"
    shown = (ack.payload["subject"] + ack.payload["text"]).lower()
    assert "pills" not in shown and "buy" not in shown and number in ack.payload["text"]
    ticket = m.Ticket.get_by_id(outcome.ticket_id)
    assert (ticket.channel, ticket.subject) == ("form", "CHEAP PILLS at pills.example")  # agents see it all


def form_body(**fields: str) -> tuple[bytes, str]:
    boundary = "----helplinetestboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"
