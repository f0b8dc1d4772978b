"""The audit trail: one ``event`` row per thing that happened to a ticket (or to no ticket yet).

``event`` writes at once, inside the caller's transaction; within ``buffered_events`` (one pipeline run) the
rows are collected and written in one statement at the end, still inside the same transaction.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from helpline.store import fastsql as sql
from helpline.store.models import utcnow


class _Events(threading.local):
    buffer: list[dict[str, Any]] | None = None


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
    statement at the end (inside the same transaction; a rollback drops them)."""
    _events.buffer = []
    try:
        yield
        sql.insert_many("event", _events.buffer)
    finally:
        _events.buffer = None
