"""The audit trail: one ``event`` row per thing that happened to a ticket (or to no ticket yet).

``event`` writes at once, inside the caller's transaction; within ``buffered_events`` (one pipeline run) the
rows are collected and written in one statement at the end, still inside the same transaction.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from helpline.store import batch_cache
from helpline.store import fastsql as sql
from helpline.store.models import utcnow


class _Events(threading.local):
    buffer: list[dict[str, Any]] | None = None
    flushed: int = 0  # rows of this buffer already written by ``flush`` (a reader needed them)


_events = _Events()


def event(
    ticket_id: int | None,
    kind: str,
    data: dict[str, Any] | None = None,
    actor: str = "system",
    now: dt.datetime | None = None,
) -> None:
    row = {"ticket_id": ticket_id, "actor": actor, "kind": kind, "data": data, "created_at": now or utcnow()}
    if _events.buffer is not None:
        _events.buffer.append(row)
    else:
        sql.insert("event", row)


@contextmanager
def buffered_events() -> Iterator[None]:
    """Collect the audit events of one pipeline run and write them in one
    statement at the end (inside the same transaction; a rollback drops them).

    Nested (a pipeline run inside an import batch's buffer), the inner run's
    events join the outer buffer, written once for the whole batch; if the
    inner run raises (its savepoint is rolled back), its events are dropped."""
    if _events.buffer is not None:
        start = _events.flushed + len(_events.buffer)
        try:
            yield
        except BaseException:
            # what ``flush`` wrote of them is inside the savepoint the caller rolls back
            del _events.buffer[max(0, start - _events.flushed) :]
            raise
        return
    _events.buffer, _events.flushed = [], 0
    try:
        yield
        _write(_events.buffer)
    finally:
        _events.buffer = None


def flush() -> None:
    """Write the buffered events now: a reader of the event table needs them in this transaction."""
    if _events.buffer:
        _write(_events.buffer)
        _events.flushed += len(_events.buffer)
        _events.buffer.clear()


def _write(rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 1000):  # SQLite's limit on a statement's parameters
        sql.insert_many("event", rows[i : i + 1000])


batch_cache.before_read(flush)
