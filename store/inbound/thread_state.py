"""What threads a message to a ticket, as stored: thread keys, participants, the conversation's lock.

Plain SQL through ``fastsql`` (the hot path), inside the caller's transaction. The decision itself is
``workers/inbound/threads.py``; this module only finds the tickets the evidence points at and records the keys.
"""

from __future__ import annotations

from typing import Iterable

import peewee

from helpline.store import fastsql as sql
from helpline.store.tickets import ticket_refs
from helpline.store.db import is_sqlite
from helpline.store.tickets.ticket_refs import TicketRef

# Raised by ``add_thread_keys`` when another worker claimed a key of the conversation first (a unique-key race):
# the caller's transaction rolls back and runs again, then finding that worker's ticket.
KeyRace = peewee.IntegrityError


def lock_conversation(keys: Iterable[str]) -> None:
    """Serialise workers on one conversation (PostgreSQL; SQLite's write lock already does)."""
    if is_sqlite():
        return
    for key in sorted(set(keys)):
        sql.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [key])


def participants_of(ticket_id: int, customer_id: int) -> frozenset[str]:
    rows = sql.fetchall(
        'SELECT address FROM "participant" WHERE ticket_id = ? '
        'UNION SELECT address FROM "identity" WHERE customer_id = ?',
        [ticket_id, customer_id],
    )
    return frozenset(r[0] for r in rows)


def evidence(
    keys: list[str], ticket_ref: str, token_ticket_id: int | None
) -> tuple[list[tuple[TicketRef, str, frozenset[str]]], list[str]]:
    """Tickets the evidence points at as (ticket, via, its participants), most specific first, each
    (ticket, via) once; and which of ``keys`` are already known."""
    found: list[tuple[TicketRef, str]] = []
    known: list[str] = []
    if keys:
        rows = sql.fetchall(
            f'SELECT tk.key, {ticket_refs.COLUMNS} FROM "thread_key" tk JOIN "ticket" t '
            f"ON t.id = tk.ticket_id WHERE tk.key IN ({sql.in_marks(len(keys))})",
            keys,
        )
        by_key = {r[0]: ticket_refs.from_row(r[1:]) for r in rows}
        known = [k for k in keys if k in by_key]
        for k in known:  # keys come most specific first
            via = "thread_index" if k.startswith("tix:") else "conversation" if k.startswith("conv:") else "references"
            found.append((by_key[k], via))
    if token_ticket_id is not None:
        t = ticket_refs.find(token_ticket_id)
        if t is not None:
            found.append((t, "reply_token"))
    if ticket_ref:
        t = ticket_refs.by_number(ticket_ref)
        if t is not None:
            found.append((t, "ticket_tag"))
    out: list[tuple[TicketRef, str, frozenset[str]]] = []
    seen: set[tuple[int, str]] = set()
    for t, via in found:
        if (t.id, via) in seen:
            continue
        seen.add((t.id, via))
        out.append((t, via, participants_of(t.id, t.customer_id)))
    return out, known


def add_thread_keys(ticket_id: int, keys: Iterable[str], *, claim: Iterable[str] = (), repoint: bool = False) -> None:
    """Point ``keys`` at the ticket.

    Keys in ``claim`` were free when threading looked: inserting them plainly
    makes a concurrent worker that claimed one first win, and this transaction
    fail with ``KeyRace`` and run again (then finding that ticket). Other
    keys are re-pointed (a follow-up of a closed ticket takes over its thread)
    or left where they are.
    """
    claimed = set(claim)
    for key in dict.fromkeys(keys):
        row = {"key": key, "ticket_id": ticket_id}
        if key in claimed:
            sql.insert("thread_key", row)
        elif repoint:
            sql.insert(
                "thread_key", row, on_conflict='ON CONFLICT ("key") DO UPDATE SET ticket_id = excluded.ticket_id'
            )
        else:
            sql.insert("thread_key", row, on_conflict="ON CONFLICT DO NOTHING")


def keys_pointing_at(ticket_id: int, keys: Iterable[str]) -> list[str]:
    """Those of ``keys`` that lead to the ticket now."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    rows = sql.fetchall(
        f'SELECT "key" FROM "thread_key" WHERE ticket_id = ? AND "key" IN ({sql.in_marks(len(wanted))})',
        [ticket_id, *wanted],
    )
    return [str(r[0]) for r in rows]


def add_participants(ticket_id: int, addresses: Iterable[tuple[str, str, str]]) -> None:
    """(kind, address, role) triples; an address already a participant stays as it is."""
    for kind, address, role in addresses:
        if address:
            sql.insert(
                "participant",
                {"ticket_id": ticket_id, "kind": kind, "address": address, "role": role},
                on_conflict="ON CONFLICT DO NOTHING",
            )
