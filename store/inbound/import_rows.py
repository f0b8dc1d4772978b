"""The rows a history import writes besides the pipeline's own: its inbound rows.

An imported inbound row is an ordinary email row whose ``source_host`` names
the import (``import:<file>``), so reports and operators can tell imported
history from live mail, and whose unique (channel, external_id, content_hash)
key makes a second run over the same file find the first run's rows instead
of doubling them.
"""

from __future__ import annotations

import datetime as dt

from helpline.store import batch_cache, fastsql
from helpline.store import models as m
from helpline.store.inbound import customer_refs, message_state, thread_state
from helpline.store.envelope import Envelope

IMPORT_PREFIX = "import:"


def store_inbound(env: Envelope, raw_key: str, source: str, received_at: dt.datetime) -> tuple[int, bool, str]:
    """Inside the caller's transaction: (id, created, status). A pending row is
    processed by the caller in the same transaction, so no sweeper ever sees it.
    One statement for a new row (the import's common case): the unique key decides,
    and only a row already there is read back."""
    new_id = fastsql.insert(
        "inbound",
        {
            "channel": env.channel,
            "external_id": env.external_id[:998],
            "content_hash": env.content_hash,
            "status": m.InboundStatus.PENDING,
            "reason": "",
            "envelope": env.to_dict(),
            "raw_blob_key": raw_key,
            "attempts": 1,
            "received_at": received_at,
            "updated_at": m.utcnow(),
            "source_host": (IMPORT_PREFIX + source)[:255],
        },
        on_conflict="ON CONFLICT DO NOTHING",
    )
    if new_id is not None:
        return int(new_id), True, m.InboundStatus.PENDING
    existing = fastsql.fetchrow(
        'SELECT id, status FROM "inbound" WHERE channel = ? AND external_id = ? AND content_hash = ?',
        [env.channel, env.external_id[:998], env.content_hash],
    )
    return int(existing[0]), False, str(existing[1])


def store_inbound_many(rows: list[tuple[Envelope, str, dt.datetime]], source: str) -> list[tuple[int, bool]]:
    """``store_inbound`` for a batch's (envelope, raw blob key, received at) in few statements: a multi-row
    INSERT that the unique (channel, external_id, content_hash) key thins out, and one SELECT for the rows
    that were there already. (id, created) per row, in order; a row repeated within the batch is created
    once, its repeats answer (that id, False) as a second run would."""
    out: list[tuple[int, bool]] = []
    for i in range(0, len(rows), 200):  # 11 columns a row: well inside SQLite's parameter limit
        out += _store_part(rows[i : i + 200], source)
    return out


def _store_part(rows: list[tuple[Envelope, str, dt.datetime]], source: str) -> list[tuple[int, bool]]:
    now = m.utcnow()
    host = (IMPORT_PREFIX + source)[:255]
    keys = [(env.channel, env.external_id[:998], env.content_hash) for env, _, _ in rows]
    values: list[object] = []
    for (env, raw_key, received_at), key in zip(rows, keys, strict=True):
        values += [*key, m.InboundStatus.PENDING, "", env.to_dict(), raw_key, 1, received_at, now, host]
    marks = "(" + ", ".join("?" * 11) + ")"
    created = fastsql.fetchall(
        'INSERT INTO "inbound" (channel, external_id, content_hash, status, reason, envelope, raw_blob_key, '
        "attempts, received_at, updated_at, source_host) VALUES "
        + ", ".join([marks] * len(rows))
        + " ON CONFLICT DO NOTHING RETURNING id, channel, external_id, content_hash",
        values,
    )
    new = {(r[1], r[2], r[3]): int(r[0]) for r in created}
    known = dict(new)
    missing = [k for k in dict.fromkeys(keys) if k not in known]
    if missing:
        where = " OR ".join(["(channel = ? AND external_id = ? AND content_hash = ?)"] * len(missing))
        for r in fastsql.fetchall(
            f'SELECT id, channel, external_id, content_hash FROM "inbound" WHERE {where}',
            [v for k in missing for v in k],
        ):
            known[(r[1], r[2], r[3])] = int(r[0])
    out: list[tuple[int, bool]] = []
    for key in keys:
        first = new.pop(key, None)
        out.append((first, True) if first is not None else (known[key], False))
    return out


def prefetch(
    cache: batch_cache.BatchCache,
    keys: list[str],
    lock_keys: list[str],
    senders: list[tuple[str, str]],
    hashes: list[tuple[str, str]],
) -> None:
    """What a batch's messages will look up, read in one statement each: the tickets their thread keys
    point at, their senders' customers, earlier messages with their (sender, body hash); and on
    PostgreSQL the locks of all their conversations, taken at once in sorted order."""
    thread_state.lock_conversations(lock_keys)
    thread_state.read_thread_keys(cache, [k for k in dict.fromkeys(keys) if k not in cache.keys])
    by_kind: dict[str, list[str]] = {}
    for kind, address in senders:
        if address and (kind, address) not in cache.customers:
            by_kind.setdefault(kind, []).append(address)
    for kind, addresses in by_kind.items():
        customer_refs.read_identities(cache, kind, addresses)
    message_state.read_inbound_hashes(cache, hashes)
    tickets = sorted({t for t in cache.keys.values() if t is not None} - set(cache.participants))
    thread_state.read_participants(cache, tickets)
    customers = {c[0] for c in cache.customers.values() if c is not None}
    customers |= {int(r[0]) for r in _ticket_customers(tickets)}
    customer_refs.read_addresses(cache, sorted(customers - set(cache.addresses)))


def _ticket_customers(ticket_ids: list[int]) -> list[tuple[int]]:
    out: list[tuple[int]] = []
    for i in range(0, len(ticket_ids), 500):
        part = ticket_ids[i : i + 500]
        out += [
            (r[0],)
            for r in fastsql.fetchall(
                f'SELECT DISTINCT customer_id FROM "ticket" WHERE id IN ({fastsql.in_marks(len(part))})', part
            )
        ]
    return out


def fail_inbound(inbound_id: int, reason: str) -> None:
    """An imported row the pipeline could not take: failed, visibly, never left pending for the sweeper."""
    fastsql.execute(
        'UPDATE "inbound" SET status = ?, reason = ?, updated_at = ? WHERE id = ?',
        [m.InboundStatus.FAILED, reason[:2000], m.utcnow(), inbound_id],
    )


def ticket_activity(ticket_ids: list[int]) -> list[tuple[int, str, dt.datetime | None]]:
    """(id, status, last customer message time) of the tickets an import batch touched."""
    if not ticket_ids:
        return []
    rows = fastsql.fetchall(
        f'SELECT id, status, last_customer_at FROM "ticket" WHERE id IN ({fastsql.in_marks(len(ticket_ids))})',
        list(ticket_ids),
    )
    return [(int(r[0]), str(r[1]), fastsql.as_datetime(r[2])) for r in rows]


def tickets_of_source(source: str) -> list[int]:
    """The tickets the imported rows of ``source`` went to (resolved or not), for the final settling pass."""
    rows = fastsql.fetchall(
        'SELECT DISTINCT ticket_id FROM "inbound" WHERE source_host = ? AND ticket_id IS NOT NULL',
        [(IMPORT_PREFIX + source)[:255]],
    )
    return sorted(int(r[0]) for r in rows)


def imported_counts() -> dict[str, int]:
    """Imported inbound rows by status, for the import's summary."""
    rows = fastsql.fetchall(
        'SELECT status, COUNT(*) FROM "inbound" WHERE source_host LIKE ? GROUP BY status', [IMPORT_PREFIX + "%"]
    )
    return {str(s): int(n) for s, n in rows}
