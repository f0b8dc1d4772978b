"""What threads a message to a ticket, as stored: thread keys, participants, the conversation's lock.

Plain SQL through ``fastsql`` (the hot path), inside the caller's transaction. The decision itself is
``workers/inbound/threads.py``; this module only finds the tickets the evidence points at and records the keys.
"""

from __future__ import annotations

from typing import Iterable

import peewee

from helpline.store import batch_cache
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
    cache = batch_cache.current()
    for key in sorted(set(keys)):
        if cache is not None:
            if key in cache.locked:  # held until the batch commits
                continue
            cache.lock_taken(key)  # a savepoint's rollback releases it: the journal forgets it too
        sql.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [key])


def lock_conversations(keys: Iterable[str]) -> None:
    """``lock_conversation`` for all conversations of a batch in one statement, in the same (sorted) order
    as single messages take them, so a live worker and the batch cannot wait on each other's keys."""
    cache = batch_cache.current()
    todo = sorted(set(keys) - (cache.locked if cache is not None else set()))
    if is_sqlite() or not todo:
        return
    for i in range(0, len(todo), 1000):
        part = todo[i : i + 1000]
        rows = ", ".join(f"({n}, ?)" for n in range(len(part)))  # taken in Python's order, as one message's are
        sql.execute(
            f"SELECT pg_advisory_xact_lock(hashtext(k)) FROM (SELECT k FROM (VALUES {rows}) v(n, k) "
            "ORDER BY n OFFSET 0) s",
            part,
        )
    if cache is not None:
        cache.locked.update(todo)


def participants_of(ticket_id: int, customer_id: int) -> frozenset[str]:
    cache = batch_cache.current()
    if cache is not None:
        if ticket_id not in cache.participants:
            rows = sql.fetchall('SELECT kind, address FROM "participant" WHERE ticket_id = ?', [ticket_id])
            cache.put(cache.participants, ticket_id, {(r[0], r[1]) for r in rows})
        from helpline.store.inbound import customer_refs

        mine = {a for _, a in cache.participants[ticket_id]}
        return frozenset(mine | customer_refs.addresses(customer_id))
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
    cache = batch_cache.current()
    if keys and cache is not None:
        ids = _cached_keys(cache, keys)
        known = [k for k in keys if ids.get(k) is not None]
        tickets = _tickets({i for i in ids.values() if i is not None})
        for k in known:  # keys come most specific first
            via = "thread_index" if k.startswith("tix:") else "conversation" if k.startswith("conv:") else "references"
            found.append((tickets[ids[k]], via))  # type: ignore[index]
    elif keys:
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


def _cached_keys(cache: batch_cache.BatchCache, keys: list[str]) -> dict[str, int | None]:
    """key -> ticket id (None: free) from the batch's cache, reading the keys it has not seen."""
    missing = [k for k in dict.fromkeys(keys) if k not in cache.keys]
    if missing:
        read_thread_keys(cache, missing)
    return {k: cache.keys[k] for k in keys}


def read_thread_keys(cache: batch_cache.BatchCache, keys: list[str]) -> None:
    """Which tickets ``keys`` point at, into the batch's cache, in statements of at most 500 keys."""
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        rows = sql.fetchall(
            f'SELECT key, ticket_id FROM "thread_key" WHERE key IN ({sql.in_marks(len(part))})',
            part,
        )
        got = {r[0]: int(r[1]) for r in rows}
        for k in part:
            cache.put(cache.keys, k, got.get(k))


def read_participants(cache: batch_cache.BatchCache, ticket_ids: list[int]) -> None:
    """The participants of these tickets into the batch's cache, in statements of at most 500 tickets."""
    for i in range(0, len(ticket_ids), 500):
        part = ticket_ids[i : i + 500]
        got: dict[int, set[tuple[str, str]]] = {t: set() for t in part}
        for r in sql.fetchall(
            f'SELECT ticket_id, kind, address FROM "participant" WHERE ticket_id IN ({sql.in_marks(len(part))})', part
        ):
            got[int(r[0])].add((r[1], r[2]))
        for t, rows in got.items():
            cache.put(cache.participants, t, rows)


def _tickets(ids: set[int]) -> dict[int, TicketRef]:
    if not ids:
        return {}
    rows = sql.fetchall(
        f'SELECT {ticket_refs.COLUMNS} FROM "ticket" t WHERE t.id IN ({sql.in_marks(len(ids))})', list(ids)
    )
    return {r[0]: ticket_refs.from_row(r) for r in rows}


def add_thread_keys(ticket_id: int, keys: Iterable[str], *, claim: Iterable[str] = (), repoint: bool = False) -> None:
    """Point ``keys`` at the ticket.

    Keys in ``claim`` were free when threading looked: inserting them plainly
    makes a concurrent worker that claimed one first win, and this transaction
    fail with ``KeyRace`` and run again (then finding that ticket). Other
    keys are re-pointed (a follow-up of a closed ticket takes over its thread)
    or left where they are.
    """
    claimed = set(claim)
    cache = batch_cache.current()
    for key in dict.fromkeys(keys):
        row = {"key": key, "ticket_id": ticket_id}
        if key in claimed:
            sql.insert("thread_key", row)
        elif repoint:
            sql.insert(
                "thread_key", row, on_conflict='ON CONFLICT ("key") DO UPDATE SET ticket_id = excluded.ticket_id'
            )
        else:
            if cache is not None and cache.keys.get(key) is not None:
                continue  # already points at a ticket: the statement would change nothing
            took = sql.insert("thread_key", row, on_conflict="ON CONFLICT DO NOTHING")
            if cache is not None and took is None:  # another writer's key after all: read it again when asked
                cache.keys.pop(key, None)
                continue
        if cache is not None:
            cache.put(cache.keys, key, ticket_id)


def any_known(keys: Iterable[str]) -> bool:
    """Does any of ``keys`` lead to a ticket now? A read outside the write transaction (``pipeline.prepare``
    asks it to tell a follow-up of a known conversation, which opens no ticket, from a possibly new one)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return False
    return (
        sql.fetchone(f'SELECT 1 FROM "thread_key" WHERE "key" IN ({sql.in_marks(len(wanted))}) LIMIT 1', wanted)
        is not None
    )


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
    cache = batch_cache.current()
    for kind, address, role in addresses:
        if address:
            if cache is not None:
                if (kind, address) in cache.participants.get(ticket_id, ()):
                    continue  # already a participant: ON CONFLICT DO NOTHING would keep it as it is
                cache.add(cache.participants, ticket_id, (kind, address))
            sql.insert(
                "participant",
                {"ticket_id": ticket_id, "kind": kind, "address": address, "role": role},
                on_conflict="ON CONFLICT DO NOTHING",
            )
