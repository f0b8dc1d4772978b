"""Ticket events for the webhook sources a ticket came from (outbound webhooks).

A source with a callback URL (``HELPLINE_WEBHOOK_CALLBACKS``) hears about the
tickets its messages created, and only those (``listening``): ``ticket.created``,
``ticket.replied`` (a new message on the ticket, the customer's or an agent's) and
``ticket.status_changed``. Each event is an outbox row written in the caller's
transaction, so it exists exactly when the change it reports committed; the
webhook sender delivers it signed, retried with back-off, at least once. Its
``id`` (also the ``X-Helpline-Event-Id`` header) never changes between
retries, so a receiver drops repeats by it.

``emit`` is for code outside the pipeline that changes a ticket (an agent's
reply, a status change), inside its own transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from typing import Any

from helpline.store.channels import webhook_state
from helpline.store.config import Settings
from helpline.store.channels.webhook_signing import parse_callbacks

from helpline.notifier import outbox

CREATED = "ticket.created"
REPLIED = "ticket.replied"
STATUS_CHANGED = "ticket.status_changed"


@lru_cache(maxsize=8)
def _callbacks(value: str) -> dict[str, str]:
    return parse_callbacks(value)


def event_id(ticket_id: int, kind: str, ref: str) -> str:
    """Stable for one change: the same ticket, event type and triggering row give the same id."""
    return "evt_" + hashlib.sha256(f"{ticket_id}:{kind}:{ref}".encode()).hexdigest()[:32]


def _iso(now: dt.datetime) -> str:
    return now.replace(microsecond=0).isoformat() + "Z"


def listening(ticket_id: int, settings: Settings) -> list[str]:
    """Who hears of the ticket's events: the source that created it, when it has a callback URL.

    Only the creator: a source that merely named the ticket (its number, its
    customer's address) must not receive its customer's mail or agents' answers."""
    callbacks = _callbacks(settings.webhook_callbacks) if settings.webhook_callbacks else {}
    if not callbacks:
        return []
    creator = webhook_state.creator_of(ticket_id)
    return [creator] if creator in callbacks else []


def emit(
    ticket_id: int,
    kind: str,
    ref: str,
    data: dict[str, Any],
    settings: Settings,
    now: dt.datetime,
    *,
    out_message: int | None = None,
    extra: dict[str, Any] | None = None,
) -> list[int]:
    """Queue one event for every source of the ticket that has a callback; the new outbox ids.

    ``ref`` names what caused the event (a message id, an audit event id) and
    with the ticket and type makes the event id; ``data`` is merged into the
    body next to ``id``, ``type``, ``created_at`` and ``ticket``. When the
    event is the delivery of an agent's answer (a webhook customer's only way
    back), ``out_message`` links the rows to that message and ``extra`` adds
    payload keys such as the ``on_sent``/``on_failed`` follow-ups."""
    sources = listening(ticket_id, settings)
    if not sources:
        return []
    row = webhook_state.ticket_head(ticket_id)
    if row is None:
        return []
    number, subject, status, channel = row
    eid = event_id(ticket_id, kind, ref)
    body = {
        "id": eid,
        "type": kind,
        "created_at": _iso(now),
        "ticket": {
            "number": number,
            "subject": subject,
            "status": status,
            "channel": channel,
            "metadata": webhook_state.fields_of(ticket_id),
        },
    }
    body.update(data)
    ids: list[int] = []
    for source in sources:
        out = outbox.enqueue(
            channel="webhook",
            kind="event",
            recipient=source,
            ticket=ticket_id,
            payload={**(extra or {}), "source": source, "event_id": eid, "type": kind, "body": body},
            unique_key=f"hook:{source}:{eid}",
            out_message=out_message,
        )
        if out is not None:
            ids.append(out.id)
    return ids


def message_data(
    message_id: int, channel: str, author_role: str, subject: str, text: str, attachments: int
) -> dict[str, Any]:
    return {
        "message": {
            "id": message_id,
            "channel": channel,
            "author_role": author_role,
            "subject": subject,
            "text": text,
            "attachments": attachments,
        }
    }


def after_customer_message(
    ticket_id: int, action: str, message: dict[str, Any], settings: Settings, now: dt.datetime
) -> list[int]:
    """The event of one customer message the pipeline stored: created, or replied. (A status change
    it causes, such as a reopen, is reported by ``workers.ticket_ops.change_status``, its one writer.)"""
    return emit(
        ticket_id, CREATED if action == "created" else REPLIED, str(message["message"]["id"]), message, settings, now
    )
