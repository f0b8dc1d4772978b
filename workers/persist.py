"""Reads and writes of the pipeline, all inside the caller's transaction.

Written as plain SQL through ``store.fastsql`` because this is the hot path
(see that module's docstring); the statements are small and named for what
they do, and the peewee models remain the schema.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from helpline.store import fastsql as sql
from helpline.store import models as m
from helpline.store.db import is_sqlite
from helpline.store.envelope import Envelope
from helpline.store.numbers import next_ticket_number

from .threads import Candidate


as_datetime = sql.as_datetime  # SQLite hands back text, PostgreSQL a datetime


@dataclass
class InboundRow:
    id: int
    status: str
    reason: str
    attempts: int
    ticket_id: int | None
    envelope: dict[str, Any]
    raw_blob_key: str


def lock_inbound(inbound_id: int, *, with_envelope: bool = True) -> InboundRow | None:
    """The row, locked (PostgreSQL; SQLite's write lock is already held); the
    envelope is only read and decoded when the caller needs it."""
    cols = "id, status, reason, attempts, ticket_id, " + ("envelope" if with_envelope else "NULL") + ", raw_blob_key"
    q = f'SELECT {cols} FROM "inbound" WHERE id = ?'
    row = sql.fetchone(q if is_sqlite() else q + " FOR UPDATE", [inbound_id])
    if row is None:
        return None
    return InboundRow(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else {}, row[6])


def count_first_attempts(inbound_ids: list[int], now: dt.datetime) -> list[int]:
    """Count the first try of the pending rows among ``inbound_ids`` that had none; their ids."""
    if not inbound_ids:
        return []
    rows = sql.fetchall(f'UPDATE "inbound" SET attempts = 1, updated_at = ? WHERE id IN ({sql.in_marks(len(inbound_ids))}) '
                        "AND status = ? AND attempts = 0 RETURNING id", [now, *inbound_ids, m.InboundStatus.PENDING])
    return [r[0] for r in rows]


def pending_with_attempts(inbound_ids: list[int]) -> list[int]:
    """The pending rows among ``inbound_ids`` that already had a try (locked on PostgreSQL)."""
    q = (f'SELECT id FROM "inbound" WHERE id IN ({sql.in_marks(len(inbound_ids))}) AND status = ? AND attempts > 0')
    return [r[0] for r in sql.fetchall(q if is_sqlite() else q + " FOR UPDATE", [*inbound_ids, m.InboundStatus.PENDING])]


def read_pending_envelope(inbound_id: int) -> tuple[dict[str, Any], str] | None:
    """(envelope, raw blob key) of a pending row, read without a transaction; None otherwise."""
    row = sql.fetchone('SELECT envelope, raw_blob_key FROM "inbound" WHERE id = ? AND status = ?',
                       [inbound_id, m.InboundStatus.PENDING])
    if row is None or not row[0]:
        return None
    return (json.loads(row[0]) if isinstance(row[0], str) else row[0]), row[1]


def update_inbound(inbound_id: int, **values: Any) -> None:
    sql.update("inbound", inbound_id, values)


def lock_conversation(keys: Iterable[str]) -> None:
    """Serialise workers on one conversation (PostgreSQL; SQLite's write lock already does)."""
    if is_sqlite():
        return
    for key in sorted(set(keys)):
        sql.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [key])


@dataclass
class CustomerRef:
    id: int
    name: str


def find_customer(kind: str, address: str) -> CustomerRef | None:
    row = sql.fetchone('SELECT c.id, c.name FROM "identity" i JOIN "customer" c ON c.id = i.customer_id '
                       "WHERE i.kind = ? AND i.address = ?", [kind, address])
    return CustomerRef(row[0], row[1]) if row else None


def customer_addresses(customer_id: int) -> set[str]:
    return {r[0] for r in sql.fetchall('SELECT address FROM "identity" WHERE customer_id = ?', [customer_id])}


def create_customer(kind: str, address: str, name: str, now: dt.datetime) -> CustomerRef:
    cid = sql.insert("customer", {"name": name, "tier": "standard", "created_at": now})
    if address:
        sql.insert("identity", {"customer_id": cid, "kind": kind, "address": address, "created_at": now})
    return CustomerRef(cid, name)


def participants_of(ticket_id: int, customer_id: int) -> frozenset[str]:
    rows = sql.fetchall('SELECT address FROM "participant" WHERE ticket_id = ? '
                        'UNION SELECT address FROM "identity" WHERE customer_id = ?', [ticket_id, customer_id])
    return frozenset(r[0] for r in rows)


@dataclass
class TicketRef:
    id: int
    number: str
    subject: str
    status: str
    resolved_at: dt.datetime | None
    customer_id: int
    support_address: str


_TICKET_COLS = "t.id, t.number, t.subject, t.status, t.resolved_at, t.customer_id, t.support_address"


def _ticket(row: tuple[Any, ...]) -> TicketRef:
    return TicketRef(row[0], row[1], row[2], row[3], as_datetime(row[4]), row[5], row[6])


def get_ticket(ticket_id: int) -> TicketRef:
    return _ticket(sql.fetchrow(f'SELECT {_TICKET_COLS} FROM "ticket" t WHERE t.id = ?', [ticket_id]))


def candidates(keys: list[str], ticket_ref: str, token_ticket_id: int | None) -> tuple[list[Candidate], list[str]]:
    """Tickets the evidence points at, and which of ``keys`` are already known."""
    found: list[tuple[TicketRef, str]] = []
    known: list[str] = []
    if keys:
        rows = sql.fetchall(f'SELECT tk.key, {_TICKET_COLS} FROM "thread_key" tk JOIN "ticket" t ON t.id = tk.ticket_id '
                            f"WHERE tk.key IN ({sql.in_marks(len(keys))})", keys)
        by_key = {r[0]: _ticket(r[1:]) for r in rows}
        known = [k for k in keys if k in by_key]
        for k in known:  # keys come most specific first
            via = "thread_index" if k.startswith("tix:") else "conversation" if k.startswith("conv:") else "references"
            found.append((by_key[k], via))
    if token_ticket_id is not None:
        row = sql.fetchone(f'SELECT {_TICKET_COLS} FROM "ticket" t WHERE t.id = ?', [token_ticket_id])
        if row:
            found.append((_ticket(row), "reply_token"))
    if ticket_ref:
        row = sql.fetchone(f'SELECT {_TICKET_COLS} FROM "ticket" t WHERE t.number = ?', [ticket_ref])
        if row:
            found.append((_ticket(row), "ticket_tag"))
    out: list[Candidate] = []
    seen: set[tuple[int, str]] = set()
    for t, via in found:
        if (t.id, via) in seen:
            continue
        seen.add((t.id, via))
        out.append(Candidate(t.id, t.number, t.status, via, t.resolved_at, participants_of(t.id, t.customer_id)))
    return out, known


def add_thread_keys(ticket_id: int, keys: Iterable[str], *, claim: Iterable[str] = (), repoint: bool = False) -> None:
    """Point ``keys`` at the ticket.

    Keys in ``claim`` were free when threading looked: inserting them plainly
    makes a concurrent worker that claimed one first win, and this transaction
    fail with IntegrityError and run again (then finding that ticket). Other
    keys are re-pointed (a follow-up of a closed ticket takes over its thread)
    or left where they are.
    """
    claim = set(claim)
    for key in dict.fromkeys(keys):
        row = {"key": key, "ticket_id": ticket_id}
        if key in claim:
            sql.insert("thread_key", row)
        elif repoint:
            sql.insert("thread_key", row, on_conflict='ON CONFLICT ("key") DO UPDATE SET ticket_id = excluded.ticket_id')
        else:
            sql.insert("thread_key", row, on_conflict="ON CONFLICT DO NOTHING")


def add_participants(ticket_id: int, addresses: Iterable[tuple[str, str, str]]) -> None:
    for kind, address, role in addresses:
        if address:
            sql.insert("participant", {"ticket_id": ticket_id, "kind": kind, "address": address, "role": role},
                       on_conflict="ON CONFLICT DO NOTHING")


def create_ticket(env: Envelope, customer_id: int, subject: str, priority: str, support_address: str,
                  now: dt.datetime, follow_up_of: int | None, possible: bool,
                  extra: dict[str, Any] | None = None) -> TicketRef:
    """``extra``: more columns known before the insert (category, team, language), one statement less."""
    number = next_ticket_number(now)
    status = m.TicketStatus.NEW
    tid = sql.insert("ticket", {
        "number": number, "subject": subject[:1000], "status": status, "priority": priority,
        "channel": env.channel, "customer_id": customer_id, "support_address": support_address,
        "follow_up_of_id": follow_up_of, "possible_follow_up": possible, "created_at": now, "updated_at": now,
        "last_customer_at": now, **(extra or {}),
    })
    return TicketRef(tid, number, subject[:1000], status, None, customer_id, support_address)


def update_ticket(ticket_id: int, **values: Any) -> None:
    sql.update("ticket", ticket_id, values)


def add_message(ticket_id: int, inbound_id: int | None, env: Envelope, body_hash: str, now: dt.datetime,
                extra: dict[str, Any] | None = None) -> int:
    """``extra``: more columns of the row (the triage stage's language and sentiment)."""
    mid = sql.insert("message", {
        "ticket_id": ticket_id, "inbound_id": inbound_id, "direction": "in", "author_role": env.author_role,
        "author": env.sender.name, "channel": env.channel, "external_id": env.external_id[:998],
        "message_id": env.thread.message_id.lower()[:998], "sender": env.sender.address,
        "subject": env.subject[:1000], "text": env.text, "full_text": env.full_text, "html": env.html,
        "body_hash": body_hash, "raw_blob_key": env.raw_blob_key, "auth": env.auth or None,
        "warnings": env.warnings or None, "delivery_status": "", "created_at": now, **(extra or {}),
    })
    if env.attachments:
        sql.insert_many("attachment", [
            {"message_id": mid, "filename": a.filename, "content_type": a.content_type, "size": a.size,
             "sha256": a.sha256, "blob_key": a.blob_key, "inline": a.inline, "content_id": a.content_id}
            for a in env.attachments
        ])
    return mid


def add_outbound_message(ticket_id: int, *, channel: str, author_role: str, message_id: str, sender: str,
                         subject: str, text: str, now: dt.datetime) -> int:
    return sql.insert("message", {
        "ticket_id": ticket_id, "direction": "out", "author_role": author_role, "author": "", "channel": channel,
        "external_id": "", "message_id": message_id, "sender": sender, "subject": subject, "text": text,
        "full_text": "", "html": "", "body_hash": "", "raw_blob_key": "", "delivery_status": "", "created_at": now,
    })


class _Events(threading.local):
    buffer: list[dict[str, Any]] | None = None


_events = _Events()


def event(ticket_id: int | None, kind: str, data: dict | None = None, actor: str = "system",
          now: dt.datetime | None = None) -> None:
    row = {"ticket_id": ticket_id, "actor": actor, "kind": kind, "data": data, "created_at": now or m.utcnow()}
    if _events.buffer is not None:
        _events.buffer.append(row)
    else:
        sql.insert("event", row)


@contextmanager
def buffered_events() -> Iterator[None]:
    """Collect the audit events of one pipeline run and write them in one
    statement at the end (inside the same transaction; a rollback drops them)."""
    _events.buffer = []
    try:
        yield
        sql.insert_many("event", _events.buffer)
    finally:
        _events.buffer = None


@dataclass
class DuplicateRef:
    message_id: int
    ticket_id: int
    external_id: str


def recent_duplicate(sender: str, body_hash: str, since: dt.datetime) -> DuplicateRef | None:
    if not body_hash or not sender:
        return None
    row = sql.fetchone('SELECT id, ticket_id, external_id FROM "message" WHERE body_hash = ? AND sender = ? '
                       "AND direction = 'in' AND created_at >= ? ORDER BY created_at DESC LIMIT 1",
                       [body_hash, sender, since])
    return DuplicateRef(*row) if row else None


def outbound_tickets(message_ids: list[str]) -> list[int]:
    """Tickets of our outbound messages with these Message-IDs (any bracket or case form)."""
    bare = sorted({i.strip().strip("<>").lower() for i in message_ids if i and i.strip()})
    if not bare:
        return []
    rows = sql.fetchall(f'SELECT DISTINCT ticket_id FROM "message" WHERE direction = \'out\' '
                        f"AND message_id IN ({sql.in_marks(len(bare))})", bare)
    return [r[0] for r in rows]
