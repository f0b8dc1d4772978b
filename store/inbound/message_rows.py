"""Reads of a ticket's customer messages and their stored envelopes: what a detach
(``workers/tickets/ticket_detach.py``) and a spam release (``workers/tickets/spam_stage.py``) need. Inside the caller's
transaction."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from helpline.store import batch_cache, fastsql


def customer_message(ticket_id: int, message_id: int) -> tuple[int | None, str, str] | None:
    """(inbound id, Message-ID, sender) of a customer message of the ticket, or None."""
    row = fastsql.fetchone(
        "SELECT inbound_id, message_id, sender FROM \"message\" WHERE id = ? AND ticket_id = ? AND direction = 'in'",
        [message_id, ticket_id],
    )
    return (row[0], row[1] or "", row[2] or "") if row is not None else None


def inbound_envelope(inbound_id: int | None) -> dict[str, Any] | None:
    """The stored envelope of an inbound row, as a dict (``Envelope.from_dict``), or None."""
    row = fastsql.fetchone('SELECT envelope FROM "inbound" WHERE id = ?', [inbound_id]) if inbound_id else None
    if row is None or not row[0]:
        return None
    data = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return data if isinstance(data, dict) else None


def first_inbound_envelope(ticket_id: int) -> dict[str, Any] | None:
    """The stored envelope of the ticket's first customer message, or None."""
    row = fastsql.fetchone(
        'SELECT inbound_id FROM "message" WHERE ticket_id = ? AND direction = ? '
        "AND inbound_id IS NOT NULL ORDER BY id LIMIT 1",
        [ticket_id, "in"],
    )
    return inbound_envelope(row[0]) if row is not None else None


def last_customer_at(ticket_id: int) -> dt.datetime | None:
    row = fastsql.fetchone(
        'SELECT MAX(created_at) FROM "message" WHERE ticket_id = ? AND direction = ?', [ticket_id, "in"]
    )
    value = row[0] if row else None
    if isinstance(value, str):  # SQLite answers an aggregate as text
        return dt.datetime.fromisoformat(value)
    return value if isinstance(value, dt.datetime) else None


def status_changed_since(ticket_id: int, event_id: int) -> bool:
    batch_cache.flush_writes()  # a batch's buffered events are part of the answer
    return (
        fastsql.fetchone(
            'SELECT 1 FROM "event" WHERE ticket_id = ? AND kind = ? AND id > ?', [ticket_id, "status_changed", event_id]
        )
        is not None
    )


def sender_wrote_other(ticket_id: int, message_id: int, channel: str, sender: str) -> bool:
    """Whether ``sender`` wrote another customer message of the ticket on ``channel`` than ``message_id``."""
    return (
        fastsql.fetchone(
            "SELECT 1 FROM \"message\" WHERE ticket_id = ? AND direction = 'in' AND channel = ? AND sender = ? "
            "AND id <> ? LIMIT 1",
            [ticket_id, channel, sender, message_id],
        )
        is not None
    )
