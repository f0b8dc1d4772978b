"""Revealing a message's masked personal data to one agent: the text as stored, and an audit event.

The event (``pii_revealed``) says who saw which message, how and why it was
allowed (their role), never the data itself."""

from __future__ import annotations

from dataclasses import dataclass

from helpline.store.db import run_tx
from helpline.store.models import Event, Message, utcnow


@dataclass(frozen=True)
class Revealed:
    ticket_id: int
    message_id: int
    text: str
    subject: str = ""


def reveal(message_id: int, *, actor: str, via: str, role: str) -> Revealed | None:
    """The message's text unmasked, with the reveal audited in the same transaction; None if no such message."""

    def tx() -> Revealed | None:
        msg = Message.get_or_none(Message.id == message_id)
        if msg is None:
            return None
        Event.create(
            ticket=msg.ticket_id,
            actor=actor,
            kind="pii_revealed",
            created_at=utcnow(),
            data={"message": message_id, "via": via, "role": role},
        )
        return Revealed(msg.ticket_id, message_id, msg.text or msg.full_text or "")

    return run_tx(tx)


def record_view(ticket_id: int, message_ids: list[int], *, actor: str, via: str) -> None:
    """An answer that carried personal data unmasked (an API key with the ``pii`` scope read the ticket)."""
    run_tx(
        lambda: Event.create(
            ticket=ticket_id,
            actor=actor,
            kind="pii_revealed",
            created_at=utcnow(),
            data={"messages": message_ids, "via": via},
        )
    )


def message_of_ticket(message_id: int, ticket_id: int) -> bool:
    """Whether the message belongs to the ticket (a reveal names both; neither may stand in for the other)."""
    msg = Message.get_or_none(Message.id == message_id)
    return msg is not None and msg.ticket_id == ticket_id
