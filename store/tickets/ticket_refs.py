"""The pipeline's view of a ticket: the few columns threading and replies need, read and written by id.

Plain SQL through ``fastsql`` (the hot path), inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from helpline.store import batch_cache
from helpline.store import fastsql as sql
from helpline.store.envelope import Envelope
from helpline.store.models import TicketStatus
from helpline.store.tickets.numbers import next_ticket_number


@dataclass
class TicketRef:
    id: int
    number: str
    subject: str
    status: str
    resolved_at: dt.datetime | None
    customer_id: int
    support_address: str


as_datetime = sql.as_datetime  # a timestamp column as read: SQLite hands back text, PostgreSQL a datetime

COLUMNS = "t.id, t.number, t.subject, t.status, t.resolved_at, t.customer_id, t.support_address"


def from_row(row: tuple[Any, ...]) -> TicketRef:
    """A ``TicketRef`` from the ``COLUMNS`` of a row (other store modules join them into their reads)."""
    return TicketRef(row[0], row[1], row[2], row[3], sql.as_datetime(row[4]), row[5], row[6])


def get(ticket_id: int) -> TicketRef:
    return from_row(sql.fetchrow(f'SELECT {COLUMNS} FROM "ticket" t WHERE t.id = ?', [ticket_id]))


def find(ticket_id: int) -> TicketRef | None:
    row = sql.fetchone(f'SELECT {COLUMNS} FROM "ticket" t WHERE t.id = ?', [ticket_id])
    return from_row(row) if row else None


def by_number(number: str) -> TicketRef | None:
    row = sql.fetchone(f'SELECT {COLUMNS} FROM "ticket" t WHERE t.number = ?', [number])
    return from_row(row) if row else None


def create(
    env: Envelope,
    customer_id: int,
    subject: str,
    priority: str,
    support_address: str,
    now: dt.datetime,
    follow_up_of: int | None,
    possible: bool,
    extra: dict[str, Any] | None = None,
) -> TicketRef:
    """``extra``: more columns known before the insert (category, team, language), one statement less."""
    number = next_ticket_number(now)
    status = TicketStatus.NEW
    tid = sql.insert(
        "ticket",
        {
            "number": number,
            "subject": subject[:1000],
            "status": status,
            "priority": priority,
            "channel": env.channel,
            "customer_id": customer_id,
            "support_address": support_address,
            "follow_up_of_id": follow_up_of,
            "possible_follow_up": possible,
            "created_at": now,
            "updated_at": now,
            "last_customer_at": now,
            **(extra or {}),
        },
    )
    cache = batch_cache.current()
    if cache is not None:  # a new ticket has no participants yet: a reply later in the batch need not ask
        cache.put(cache.participants, tid, set())
    return TicketRef(tid, number, subject[:1000], status, None, customer_id, support_address)


def update(ticket_id: int, **values: Any) -> None:
    sql.update("ticket", ticket_id, values)


def language_of(ticket_id: int) -> str | None:
    """The ticket's language (None: no such ticket), for customer texts in it."""
    row = sql.fetchone('SELECT language FROM "ticket" WHERE id = ?', [ticket_id])
    return row[0] if row else None
