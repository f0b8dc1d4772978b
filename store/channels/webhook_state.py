"""What the webhook API and the contact form keep in the database (migration 5).

- ``WebhookSignature``: signatures already accepted, so a captured request
  cannot be replayed while its timestamp is still inside the 5-minute window.
  In the database, not in memory, because any of several ingest daemons may
  receive the replay. Rows are pruned once their timestamp is older than
  ``REPLAY_KEEP_S`` (the window plus a margin for clocks that disagree).
- Request counters per source (or per client address for the form) in the
  existing ``rate_counter`` table, one row per key and time window, read as a
  sliding window the way ``notifier.ratelimit`` reads its hourly rows.
- ``TicketField``: the string key/values a source attaches to its messages
  (order number, plan, user id in its system), kept on the ticket, newest value
  wins.
- ``TicketSource``: which webhook sources a ticket came from, so that ticket
  events go back to them.

Functions that run inside the pipeline's transaction use ``fastsql`` (hot path).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import peewee as pw

from helpline.store import fastsql
from helpline.store.access.api_keys import ApiKey
from helpline.store.db import is_sqlite, run_tx
from helpline.store.models import Base, Ticket, utcnow

REPLAY_KEEP_S = 600
PRUNE_EVERY_S = 60.0


class WebhookSignature(Base):
    signature = pw.CharField(max_length=64, primary_key=True)  # the hex digest
    source = pw.CharField(max_length=200)
    stamp = pw.BigIntegerField(index=True)  # the request's X-Helpline-Timestamp
    seen_at = pw.DateTimeField(default=utcnow)


class TicketField(Base):
    id = pw.AutoField()
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, backref="fields", on_delete="CASCADE")
    key = pw.CharField(max_length=64)
    value = pw.TextField()
    source = pw.CharField(max_length=200, default="")
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ticket", "key"), True),)


class TicketSource(Base):
    id = pw.AutoField()
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, backref="sources", on_delete="CASCADE")
    source = pw.CharField(max_length=200)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ticket", "source"), True),)


MODELS: list[type[Base]] = [ApiKey, WebhookSignature, TicketField, TicketSource]


# ---- admission: rate limit and replay ------------------------------------------
def _counter_key(name: str, window_s: int) -> str:
    return f"req:{window_s}:{name}"[:400]


def _estimate(key: str, window_s: int, now: float) -> float:
    bucket = int(now // window_s)
    into = (now % window_s) / window_s
    rows = fastsql.fetchall(
        'SELECT bucket, count FROM "rate_counter" WHERE key = ? AND bucket IN (?, ?)', [key, bucket, bucket - 1]
    )
    return float(sum(c * (1.0 if b == bucket else 1.0 - into) for b, c in rows))


def admit(
    name: str,
    limit: int,
    window_s: int,
    *,
    signature: str = "",
    source: str = "",
    stamp: int = 0,
    now: float | None = None,
    also: tuple[tuple[str, int], ...] = (),
) -> str:
    """Count one request of ``name`` against ``limit`` per ``window_s`` and claim its signature.

    Returns ``ok``, ``rate_limited`` (nothing recorded), ``also_limited`` (one
    of the counters in ``also``, such as the client address's, is full;
    nothing recorded) or ``replay`` (the signature was accepted before). One
    short non-durable transaction for all counters: a power cut may forget the
    newest claims, which only lets an exact replay reach intake, where the
    (channel, external id, content) key makes it a no-op. A limit of 0 or less
    counts without limiting. Raises ``DatabaseUnavailable`` when the database
    cannot be reached."""
    now = time.time() if now is None else now
    counters = [(_counter_key(name, window_s), limit)] + [(_counter_key(n, window_s), lim) for n, lim in also]

    def tx() -> str:
        for i, (key, lim) in enumerate(counters):
            if lim > 0 and _estimate(key, window_s, now) >= lim:
                return "rate_limited" if i == 0 else "also_limited"
        if signature:
            cur = fastsql.execute(
                'INSERT INTO "webhook_signature" (signature, source, stamp, seen_at) '
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [signature, source[:200], stamp, utcnow()],
            )
            if cur.rowcount == 0:
                return "replay"
        bucket = int(now // window_s)
        for key, _ in counters:
            _count(key, bucket)
        return "ok"

    verdict = run_tx(tx, retries=0, durable=False)
    _maybe_prune(now)
    return verdict


def _count(key: str, bucket: int, n: int = 1) -> None:
    fastsql.execute(
        'INSERT INTO "rate_counter" (key, bucket, count) VALUES (?, ?, ?) '
        'ON CONFLICT (key, bucket) DO UPDATE SET count = "rate_counter".count + ?',
        [key, bucket, n, n],
    )


def record(name: str, window_s: int, now: float | None = None) -> None:
    """Count one event of ``name`` (a failed authentication) without a limit check."""
    now = time.time() if now is None else now
    run_tx(lambda: _count(_counter_key(name, window_s), int(now // window_s)), retries=0, durable=False)
    _maybe_prune(now)


def counts(name: str, window_s: int, now: float | None = None) -> tuple[int, int]:
    """(this window's count, the previous window's) of ``name``: a sliding estimate's two parts."""
    now = time.time() if now is None else now
    bucket = int(now // window_s)
    rows = dict(
        fastsql.fetchall(
            'SELECT bucket, count FROM "rate_counter" WHERE key = ? AND bucket IN (?, ?)',
            [_counter_key(name, window_s), bucket, bucket - 1],
        )
    )
    return int(rows.get(bucket, 0)), int(rows.get(bucket - 1, 0))


def lock_idempotency_keys(keys: list[str]) -> None:
    """Inside intake's transaction: one request per Idempotency-Key at a time (PostgreSQL).

    Two requests with one key and different bodies committed side by side would
    not see each other's row, and both would be accepted instead of the second
    getting 422. Sorted, so two batches never wait for each other in a cycle.
    SQLite's single writer serialises them already."""
    if is_sqlite():
        return
    for key in sorted(set(keys)):
        fastsql.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"idem:{key}"])


def release(signature: str) -> None:
    """Forget a claimed signature whose request was not accepted (503, 400), so its retry is not a "replay"."""
    run_tx(
        lambda: fastsql.execute('DELETE FROM "webhook_signature" WHERE signature = ?', [signature]),
        retries=0,
        durable=False,
    )


_pruned = {"at": 0.0}
_prune_lock = threading.Lock()


def _maybe_prune(now: float) -> None:
    with _prune_lock:
        if now - _pruned["at"] < PRUNE_EVERY_S:
            return
        _pruned["at"] = now
    try:
        prune(now)
    except Exception:  # pruning is housekeeping; the next round tries again
        pass


def prune(now: float | None = None) -> int:
    """Drop signatures too old to be accepted anyway, and request counters past their window."""
    now = time.time() if now is None else now

    def tx() -> int:
        gone = int(
            fastsql.execute('DELETE FROM "webhook_signature" WHERE stamp < ?', [int(now) - REPLAY_KEEP_S]).rowcount
        )
        # Counters of both windows in use: one minute (sources) and one hour (contact form).
        for window_s in (60, 3600):
            fastsql.execute(
                'DELETE FROM "rate_counter" WHERE key LIKE ? AND bucket < ?',
                [f"req:{window_s}:%", int(now // window_s) - 2],
            )
        return gone

    return run_tx(tx, retries=0, durable=False)


# ---- ticket fields and sources (inside the pipeline's transaction) --------------
def save_fields(ticket_id: int, fields: dict[str, str], source: str, now: dt.datetime) -> None:
    for key, value in fields.items():
        fastsql.execute(
            'INSERT INTO "ticket_field" (ticket_id, key, value, source, updated_at) VALUES (?, ?, ?, ?, ?) '
            "ON CONFLICT (ticket_id, key) DO UPDATE SET value = excluded.value, source = excluded.source, "
            "updated_at = excluded.updated_at",
            [ticket_id, key, value, source, now],
        )


def fields_of(ticket_id: int) -> dict[str, str]:
    return dict(fastsql.fetchall('SELECT key, value FROM "ticket_field" WHERE ticket_id = ? ORDER BY key', [ticket_id]))


def link_source(ticket_id: int, source: str, now: dt.datetime) -> None:
    fastsql.execute(
        'INSERT INTO "ticket_source" (ticket_id, source, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        [ticket_id, source, now],
    )


def creator_of(ticket_id: int) -> str:
    """The webhook source whose message created the ticket; "" for a ticket of another channel.

    Its link is the ticket's first ``ticket_source`` row, written in the
    transaction that created the ticket. Later rows on a ticket exist only
    where an older release let another source write into it (the takeover
    fixed in issue 12); they confer nothing."""
    row = fastsql.fetchone(
        'SELECT ts.source FROM "ticket_source" ts JOIN "ticket" t ON t.id = ts.ticket_id '
        "WHERE ts.ticket_id = ? AND t.channel = 'webhook' ORDER BY ts.id LIMIT 1",
        [ticket_id],
    )
    return row[0] if row else ""


def writable_by(source: str, ticket_ids: list[int]) -> set[int]:
    """Which of ``ticket_ids`` a message of ``source`` may be written into.

    A source writes only into tickets it created, and into the ticket an agent
    merged one of them into (the merge moved that conversation there)."""
    if not ticket_ids:
        return set()
    marks = fastsql.in_marks(len(ticket_ids))
    first = 'ts.id = (SELECT MIN(f.id) FROM "ticket_source" f WHERE f.ticket_id = ts.ticket_id)'
    own = fastsql.fetchall(
        f'SELECT t.id FROM "ticket" t JOIN "ticket_source" ts ON ts.ticket_id = t.id '
        f"WHERE t.id IN ({marks}) AND t.channel = 'webhook' AND ts.source = ? AND {first}",
        [*ticket_ids, source],
    )
    merged = fastsql.fetchall(
        f'SELECT tm.target_id FROM "ticket_merge" tm JOIN "ticket" t ON t.id = tm.source_id '
        f'JOIN "ticket_source" ts ON ts.ticket_id = t.id WHERE tm.target_id IN ({marks}) '
        f"AND tm.split_at IS NULL AND t.channel = 'webhook' AND ts.source = ? AND {first}",
        [*ticket_ids, source],
    )
    return {r[0] for r in own} | {r[0] for r in merged}


def sources_of(ticket_id: int) -> list[str]:
    return [
        r[0]
        for r in fastsql.fetchall('SELECT source FROM "ticket_source" WHERE ticket_id = ? ORDER BY id', [ticket_id])
    ]


def as_dict(ticket_id: int) -> dict[str, Any]:
    """For ``tickets show``: the ticket's fields and sources."""
    return {"metadata": fields_of(ticket_id), "sources": sources_of(ticket_id)}


def ticket_head(ticket_id: int) -> tuple[str, str, str, str] | None:
    """(number, subject, status, channel) of a ticket, for the body of its webhook events; None if it is gone."""
    row = fastsql.fetchone('SELECT number, subject, status, channel FROM "ticket" WHERE id = ?', [ticket_id])
    return (row[0], row[1], row[2], row[3]) if row is not None else None
