"""How outbound messages fared after their send: a message's ``delivery_status`` and the ticket's delivery events.

Written from providers' late reports (Twilio's status callbacks; bounces are in
``outbox_rows.bounce``), in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from helpline.store.models import Event, Message


def of_message(message_id: int) -> str | None:
    """The message's delivery status ("" before any report); None when the message does not exist."""
    got = Message.select(Message.delivery_status).where(Message.id == message_id).tuples().first()
    return str(got[0] or "") if got is not None else None


def set_status(message_id: int, status: str) -> None:
    Message.update(delivery_status=status).where(Message.id == message_id).execute()


def add_event(ticket_id: int, kind: str, data: dict[str, Any], now: dt.datetime) -> None:
    """A delivery event on the ticket (``delivery_failed``, ``sms_delivered``): what agents see of it."""
    Event.create(ticket=ticket_id, kind=kind, created_at=now, data=data)
