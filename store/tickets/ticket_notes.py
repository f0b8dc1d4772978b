"""Internal notes: an agent's text kept on the ticket as a message row that is never sent.

Written inside the caller's transaction (the API's note, with its audit event).
"""

from __future__ import annotations

import datetime as dt

from helpline.store import fastsql


def add_note(ticket_id: int, *, author: str, text: str, channel: str, now: dt.datetime) -> int:
    """The note's message row (direction ``note``); its id."""
    new_id: int = fastsql.insert(
        "message",
        {
            "ticket_id": ticket_id,
            "inbound_id": None,
            "direction": "note",
            "author_role": "agent",
            "author": author[:255],
            "channel": channel,
            "external_id": "",
            "message_id": "",
            "sender": "",
            "subject": "",
            "text": text,
            "full_text": text,
            "html": "",
            "body_hash": "",
            "raw_blob_key": "",
            "delivery_status": "",
            "created_at": now,
        },
    )
    return new_id
