"""Adding and removing a ticket's tags, audited (one ``tags_changed`` event naming what changed).

The CLI (``helpline tickets tag``) and the API (``POST /api/v1/tickets/{number}/tags``)
both come here, inside their transaction; ``store.tags`` does the writing.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from helpline.store.tickets import tags

from helpline.store.inbound import audit_events

TagError = tags.TagError
TooManyTags = tags.TooManyTags


def change(
    ticket_id: int, add: Iterable[str], remove: Iterable[str], *, actor: str, now: dt.datetime, via: str
) -> list[str]:
    """Apply the change; the ticket's tags afterwards."""
    added, removed = tags.change(ticket_id, add, remove, actor=actor, now=now)
    if added or removed:
        audit_events.event(
            ticket_id, "tags_changed", {"added": added, "removed": removed, "via": via}, actor=actor, now=now
        )
    return tags.tags_of(ticket_id)
