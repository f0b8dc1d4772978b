"""Counters of automatic replies in the shared ``rate_counter`` table: one row per key and clock hour.

``notifier/ratelimit.py`` decides the keys and reads the sliding hour out of
two buckets; these are its statements, run in the caller's transaction (the
one that queues the reply), plain SQL because the pipeline runs them per message.
"""

from __future__ import annotations

from helpline.store import fastsql


def with_previous(keys: list[str], bucket: int) -> list[tuple[str, int, int]]:
    """(key, bucket, count) of ``keys`` in ``bucket`` and in the bucket before it."""
    rows = fastsql.fetchall(
        f'SELECT key, bucket, count FROM "rate_counter" WHERE key IN ({fastsql.in_marks(len(keys))}) '
        "AND bucket IN (?, ?)",
        [*keys, bucket, bucket - 1],
    )
    return [(str(k), int(b), int(c)) for k, b, c in rows]


def add_one_each(first: str, second: str, bucket: int) -> None:
    """Count one in ``bucket`` for both keys, in one statement."""
    fastsql.execute(
        'INSERT INTO "rate_counter" (key, bucket, count) VALUES (?, ?, 1), (?, ?, 1) '
        'ON CONFLICT (key, bucket) DO UPDATE SET count = "rate_counter".count + 1',
        [first, bucket, second, bucket],
    )
