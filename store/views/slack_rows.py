"""Reads and writes of the Slack side of the workers (``workers/slack_*.py``), in the caller's transaction.

What Slack itself keeps (threads, agents) is in ``slack_state``; these are the
statements of the Slack stages over tickets, events, thread keys and messages.
Plain SQL (``fastsql``): most run inside the pipeline's transaction or the
scheduler's sweeps.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from helpline.store import fastsql
from helpline.store.tickets.similarity_state import ACTIVE


def latest_open_ticket(customer_id: int, since: dt.datetime) -> tuple[int, str, bytes | None, str] | None:
    """(id, number, fingerprint signature, fingerprint refs) of the customer's most recent active Slack ticket
    they wrote on since ``since``."""
    row = fastsql.fetchone(
        'SELECT t.id, t.number, f.signature, f.refs FROM "ticket" t '
        'LEFT JOIN "ticket_fingerprint" f ON f.ticket_id = t.id '
        f"WHERE t.customer_id = ? AND t.channel = 'slack' AND t.last_customer_at >= ? "
        f"AND t.status IN ({', '.join('?' for _ in ACTIVE)}) ORDER BY t.last_customer_at DESC, t.id DESC LIMIT 1",
        [customer_id, since, *ACTIVE],
    )
    if row is None:
        return None
    sig = row[2]
    return int(row[0]), str(row[1]), bytes(sig) if sig is not None else None, str(row[3] or "")


def team_and_number(ticket_id: int) -> tuple[str | None, str]:
    """(team, number) of a ticket the caller works on; LookupError if it does not exist."""
    row = fastsql.fetchrow('SELECT team, number FROM "ticket" WHERE id = ?', [ticket_id])
    return row[0], str(row[1])


def tickets_with_stale_cards(card_events: tuple[str, ...], limit: int) -> list[int]:
    """Tickets with an event of ``card_events`` newer than their Slack parent's last render and no parent
    update pending or being sent, lowest id first."""
    marks = fastsql.in_marks(len(card_events))
    rows = fastsql.fetchall(
        'SELECT s.ticket_id FROM "slack_thread" s WHERE EXISTS (SELECT 1 FROM "event" e WHERE '
        f"e.ticket_id = s.ticket_id AND e.kind IN ({marks}) AND e.created_at > s.updated_at) AND NOT EXISTS "
        "(SELECT 1 FROM \"outbox\" o WHERE o.ticket_id = s.ticket_id AND o.channel = 'slack' "
        "AND o.kind = 'slack_update' AND o.status IN ('pending', 'sending')) ORDER BY s.ticket_id LIMIT ?",
        [*card_events, limit],
    )
    return [int(r[0]) for r in rows]


def customer_conversation(ticket_id: int) -> str | None:
    """The ticket's first ``conv:slack:CHANNEL:TS`` thread key (a customer who wrote in Slack), if any."""
    row = fastsql.fetchone(
        "SELECT key FROM \"thread_key\" WHERE ticket_id = ? AND key LIKE 'conv:slack:%' ORDER BY key LIMIT 1",
        [ticket_id],
    )
    return str(row[0]) if row is not None else None


def _data(raw: Any) -> dict[str, Any]:
    """An event's ``data`` column as read: text on SQLite, text or parsed on PostgreSQL."""
    data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return data if isinstance(data, dict) else {}


def unposted_team_notifications(since: dt.datetime, limit: int) -> list[tuple[int, int | None, dict[str, Any]]]:
    """(event id, ticket id, data) of ``team_notification`` events since ``since`` with no Slack row yet."""
    rows = fastsql.fetchall(
        'SELECT e.id, e.ticket_id, e.data FROM "event" e WHERE e.kind = ? AND e.created_at >= ? '
        "AND NOT EXISTS (SELECT 1 FROM \"outbox\" o WHERE o.unique_key = 'slack:notify:' || e.id) "
        "ORDER BY e.id LIMIT ?",
        ["team_notification", since, limit],
    )
    return [(int(event_id), ticket_id, _data(raw)) for event_id, ticket_id, raw in rows]


def unposted_merge_suggestions(since: dt.datetime, limit: int) -> list[tuple[int, int, dict[str, Any], str, str]]:
    """(event id, ticket id, data, ticket number, ticket status) of ``merge_suggested`` events since ``since``
    on tickets whose Slack parent is posted, with no Slack row yet."""
    rows = fastsql.fetchall(
        'SELECT e.id, e.ticket_id, e.data, t.number, t.status FROM "event" e '
        'JOIN "slack_thread" s ON s.ticket_id = e.ticket_id JOIN "ticket" t ON t.id = e.ticket_id '
        "WHERE e.kind = ? AND e.created_at >= ? "
        "AND NOT EXISTS (SELECT 1 FROM \"outbox\" o WHERE o.unique_key = 'slack:suggest:' || e.id) "
        "ORDER BY e.id LIMIT ?",
        ["merge_suggested", since, limit],
    )
    return [
        (int(event_id), int(ticket_id), _data(raw), str(number), str(status))
        for event_id, ticket_id, raw, number, status in rows
    ]


def status_of_number(number: str) -> str | None:
    """The status of the ticket numbered ``number``; None when there is none."""
    got = fastsql.fetchone('SELECT status FROM "ticket" WHERE number = ?', [number])
    return str(got[0]) if got is not None else None


def button_state(ticket_id: int) -> tuple[str, str, str, dt.datetime | None]:
    """(status, priority, assignee or "", resolved_at) of the ticket an agent's Slack button acts on;
    LookupError if it does not exist."""
    row = fastsql.fetchrow('SELECT status, priority, assignee, resolved_at FROM "ticket" WHERE id = ?', [ticket_id])
    return str(row[0]), str(row[1]), str(row[2] or ""), fastsql.as_datetime(row[3])


def ticket_id_of_number(number: str) -> int | None:
    got = fastsql.fetchone('SELECT id FROM "ticket" WHERE number = ?', [number])
    return int(got[0]) if got is not None else None


def ticket_of_customer_thread(channel: str, thread_ts: str) -> int | None:
    """The ticket of a customer's own Slack thread (thread key ``conv:slack:CHANNEL:TS``), if any."""
    got = fastsql.fetchone('SELECT ticket_id FROM "thread_key" WHERE key = ?', [f"conv:slack:{channel}:{thread_ts}"])
    return int(got[0]) if got is not None else None


def number_of(ticket_id: int) -> str:
    """The number of a ticket the caller works on; LookupError if it does not exist."""
    return str(fastsql.fetchrow('SELECT number FROM "ticket" WHERE id = ?', [ticket_id])[0])
