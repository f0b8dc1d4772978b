"""Small reads of one ticket for what agents, notices and the scheduler do to it, inside the caller's
transaction.

``for_change`` is the row every ticket operation starts from (``workers.ticket_ops.load``), locked so that
two operations on one ticket take turns. The rest are the few columns one caller needs. Plain SQL through
``fastsql``: these run on the pipeline's path (a priority raised by a message, a status notice).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, NamedTuple

from helpline.store import fastsql
from helpline.store.db import is_sqlite


class TicketRow(NamedTuple):
    """A ticket with its customer's tier, as ticket operations need it."""

    id: int
    number: str
    status: str
    priority: str
    team: str | None
    assignee: str | None
    category: str | None
    language: str | None
    customer_tier: str
    channel: str
    subject: str
    support_address: str
    customer_id: int


_COLS = (
    "t.id, t.number, t.status, t.priority, t.team, t.assignee, t.category, t.language, c.tier, t.channel, "
    "t.subject, t.support_address, t.customer_id"
)


def for_change(ticket_id: int, *, lock: bool = True) -> TicketRow | None:
    """The ticket, locked against concurrent changes (PostgreSQL row lock; SQLite's write lock is held);
    None when there is no such ticket."""
    q = f'SELECT {_COLS} FROM "ticket" t JOIN "customer" c ON c.id = t.customer_id WHERE t.id = ?'
    row = fastsql.fetchone(q + (" FOR UPDATE OF t" if lock and not is_sqlite() else ""), [ticket_id])
    if row is None:
        return None
    return TicketRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8] or "standard",
        row[9],
        row[10],
        row[11],
        row[12],
    )


class MacroFacts(NamedTuple):
    number: str
    subject: str
    customer_name: str | None
    team: str | None


def macro_facts(ticket_id: int) -> MacroFacts | None:
    """What a macro's tokens may show of the ticket: number, subject, customer's name, and its team."""
    row = fastsql.fetchone(
        'SELECT t.number, t.subject, c.name, t.team FROM "ticket" t JOIN "customer" c '
        "ON c.id = t.customer_id WHERE t.id = ?",
        [ticket_id],
    )
    return MacroFacts(row[0], row[1], row[2], row[3]) if row else None


def team_and_language(ticket_id: int) -> tuple[str | None, str | None] | None:
    """The ticket's team and language (which macros apply); None when there is no such ticket."""
    row = fastsql.fetchone('SELECT team, language FROM "ticket" WHERE id = ?', [ticket_id])
    return (row[0], row[1]) if row else None


def resolved_at(ticket_id: int) -> dt.datetime | None:
    row = fastsql.fetchone('SELECT resolved_at FROM "ticket" WHERE id = ?', [ticket_id])
    return fastsql.as_datetime(row[0]) if row else None


def first_envelope(ticket_id: int) -> dict[str, Any] | None:
    """The envelope of the ticket's first inbound row (who opened it, and how to reach them)."""
    row = fastsql.fetchone('SELECT envelope FROM "inbound" WHERE ticket_id = ? ORDER BY id LIMIT 1', [ticket_id])
    if row is None or row[0] is None:
        return None
    raw = row[0]
    return raw if isinstance(raw, dict) else dict(json.loads(raw))


def first_agent_reply_since(ticket_id: int, since: dt.datetime) -> dt.datetime | None:
    """When a person first answered publicly since ``since`` (any channel that records agent messages)."""
    row = fastsql.fetchone(
        "SELECT MIN(created_at) FROM \"message\" WHERE ticket_id = ? AND direction = 'out' "
        "AND author_role = 'agent' AND created_at >= ?",
        [ticket_id, since],
    )
    return fastsql.as_datetime(row[0]) if row and row[0] else None
