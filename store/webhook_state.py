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

from . import fastsql
from .api_keys import ApiKey
from .db import run_tx
from .models import Base, Ticket, utcnow

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
    rows = fastsql.fetchall('SELECT bucket, count FROM "rate_counter" WHERE key = ? AND bucket IN (?, ?)',
                            [key, bucket, bucket - 1])
    return float(sum(c * (1.0 if b == bucket else 1.0 - into) for b, c in rows))


def admit(name: str, limit: int, window_s: int, *, signature: str = "", source: str = "", stamp: int = 0,
          now: float | None = None) -> str:
    """Count one request of ``name`` against ``limit`` per ``window_s`` and claim its signature.

    Returns ``ok``, ``rate_limited`` (nothing recorded) or ``replay`` (the
    signature was accepted before). One short non-durable transaction: a power
    cut may forget the newest claims, which only lets an exact replay reach
    intake, where the (channel, external id, content) key makes it a no-op.
    Raises ``DatabaseUnavailable`` when the database cannot be reached."""
    now = time.time() if now is None else now
    key = _counter_key(name, window_s)

    def tx() -> str:
        if limit > 0 and _estimate(key, window_s, now) >= limit:
            return "rate_limited"
        if signature:
            cur = fastsql.execute('INSERT INTO "webhook_signature" (signature, source, stamp, seen_at) '
                                  "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                  [signature, source[:200], stamp, utcnow()])
            if cur.rowcount == 0:
                return "replay"
        fastsql.execute('INSERT INTO "rate_counter" (key, bucket, count) VALUES (?, ?, 1) '
                        'ON CONFLICT (key, bucket) DO UPDATE SET count = "rate_counter".count + 1',
                        [key, int(now // window_s)])
        return "ok"

    verdict = run_tx(tx, retries=0, durable=False)
    _maybe_prune(now)
    return verdict


def release(signature: str) -> None:
    """Forget a claimed signature whose request was not accepted (503, 400), so its retry is not a "replay"."""
    run_tx(lambda: fastsql.execute('DELETE FROM "webhook_signature" WHERE signature = ?', [signature]),
           retries=0, durable=False)


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
        gone = int(fastsql.execute('DELETE FROM "webhook_signature" WHERE stamp < ?', [int(now) - REPLAY_KEEP_S]).rowcount)
        # Counters of both windows in use: one minute (sources) and one hour (contact form).
        for window_s in (60, 3600):
            fastsql.execute('DELETE FROM "rate_counter" WHERE key LIKE ? AND bucket < ?',
                            [f"req:{window_s}:%", int(now // window_s) - 2])
        return gone

    return run_tx(tx, retries=0, durable=False)


# ---- ticket fields and sources (inside the pipeline's transaction) --------------
def save_fields(ticket_id: int, fields: dict[str, str], source: str, now: dt.datetime) -> None:
    for key, value in fields.items():
        fastsql.execute(
            'INSERT INTO "ticket_field" (ticket_id, key, value, source, updated_at) VALUES (?, ?, ?, ?, ?) '
            "ON CONFLICT (ticket_id, key) DO UPDATE SET value = excluded.value, source = excluded.source, "
            "updated_at = excluded.updated_at", [ticket_id, key, value, source, now])


def fields_of(ticket_id: int) -> dict[str, str]:
    return dict(fastsql.fetchall('SELECT key, value FROM "ticket_field" WHERE ticket_id = ? ORDER BY key',
                                 [ticket_id]))


def link_source(ticket_id: int, source: str, now: dt.datetime) -> None:
    fastsql.execute('INSERT INTO "ticket_source" (ticket_id, source, created_at) VALUES (?, ?, ?) '
                    "ON CONFLICT DO NOTHING", [ticket_id, source, now])


def sources_of(ticket_id: int) -> list[str]:
    return [r[0] for r in fastsql.fetchall('SELECT source FROM "ticket_source" WHERE ticket_id = ? ORDER BY id',
                                           [ticket_id])]


def as_dict(ticket_id: int) -> dict[str, Any]:
    """For ``tickets show``: the ticket's fields and sources."""
    return {"metadata": fields_of(ticket_id), "sources": sources_of(ticket_id)}
