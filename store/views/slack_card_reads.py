"""The rows a Slack card shows of a ticket, read when the message is sent (``notifier/slack/slack_cards.py``).

Plain reads outside any transaction of their own: the card shows the ticket
as it is at send time.
"""

from __future__ import annotations

from helpline.store.models import Attachment, Customer, Event, Message, Ticket

CATEGORY_EVENTS = ("category_set", "category_corrected", "category_confirmed")


def ticket(ticket_id: int) -> Ticket | None:
    got: Ticket | None = Ticket.get_or_none(Ticket.id == ticket_id)
    return got


def first_customer_message(ticket_id: int) -> Message | None:
    """The ticket's first inbound message (its card's text, sender and files)."""
    got: Message | None = (
        Message.select().where((Message.ticket == ticket_id) & (Message.direction == "in")).order_by(Message.id).first()
    )
    return got


def customer(customer_id: int | None) -> Customer | None:
    got: Customer | None = Customer.get_or_none(Customer.id == customer_id)
    return got


def last_category_event(ticket_id: int) -> Event | None:
    """The newest event that set, corrected or confirmed the ticket's category."""
    got: Event | None = (
        Event.select()
        .where((Event.ticket == ticket_id) & Event.kind.in_(CATEGORY_EVENTS))
        .order_by(Event.id.desc())
        .first()
    )
    return got


def message(message_id: int) -> Message | None:
    got: Message | None = Message.get_or_none(Message.id == message_id)
    return got


def listed_files(message_id: int) -> list[tuple[str, int]]:
    """(filename, size) of the message's attachments, inline images of an HTML body left out."""
    return [
        (a.filename, a.size) for a in Attachment.select().where((Attachment.message == message_id) & ~Attachment.inline)
    ]


def attachment(attachment_id: int) -> Attachment | None:
    got: Attachment | None = Attachment.get_or_none(Attachment.id == attachment_id)
    return got
