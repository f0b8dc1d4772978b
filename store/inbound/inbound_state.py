"""The worker's side of an inbound row: lock it, count its tries, read its envelope, record how it ended.

Plain SQL through ``fastsql`` (the hot path; see that module), inside the caller's transaction. The attempt
counter here is the guard of the one retry budget (``workers/retry_budget.py``, ARCHITECTURE.md "Retries").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from helpline.store import fastsql as sql
from helpline.store.db import is_sqlite
from helpline.store.models import InboundStatus


@dataclass
class InboundRow:
    id: int
    status: str
    reason: str
    attempts: int
    ticket_id: int | None
    envelope: dict[str, Any]
    raw_blob_key: str

    @property
    def pending(self) -> bool:
        """Not yet processed: the only state in which the pipeline may act on the row."""
        return self.status == InboundStatus.PENDING


def lock(inbound_id: int, *, with_envelope: bool = True) -> InboundRow | None:
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
    rows = sql.fetchall(
        f'UPDATE "inbound" SET attempts = 1, updated_at = ? WHERE id IN ({sql.in_marks(len(inbound_ids))}) '
        "AND status = ? AND attempts = 0 RETURNING id",
        [now, *inbound_ids, InboundStatus.PENDING],
    )
    return [r[0] for r in rows]


def pending_with_attempts(inbound_ids: list[int]) -> list[int]:
    """The pending rows among ``inbound_ids`` that already had a try (locked on PostgreSQL)."""
    q = f'SELECT id FROM "inbound" WHERE id IN ({sql.in_marks(len(inbound_ids))}) AND status = ? AND attempts > 0'
    return [r[0] for r in sql.fetchall(q if is_sqlite() else q + " FOR UPDATE", [*inbound_ids, InboundStatus.PENDING])]


def read_pending_envelope(inbound_id: int) -> tuple[dict[str, Any], str] | None:
    """(envelope, raw blob key) of a pending row, read without a transaction; None otherwise."""
    row = sql.fetchone(
        'SELECT envelope, raw_blob_key FROM "inbound" WHERE id = ? AND status = ?', [inbound_id, InboundStatus.PENDING]
    )
    if row is None or not row[0]:
        return None
    return (json.loads(row[0]) if isinstance(row[0], str) else row[0]), row[1]


def attempts_of(inbound_id: int) -> int:
    """Tries counted so far (0 for a row that does not exist)."""
    row = sql.fetchone('SELECT attempts FROM "inbound" WHERE id = ?', [inbound_id])
    return int(row[0]) if row else 0


def update(inbound_id: int, **values: Any) -> None:
    sql.update("inbound", inbound_id, values)


def count_attempt(inbound_id: int, attempts: int, now: dt.datetime) -> None:
    """Record that try number ``attempts`` begins (committed before any work)."""
    sql.update("inbound", inbound_id, {"attempts": attempts, "updated_at": now})


def uncount_attempt(inbound_id: int, attempts: int, reason: str, now: dt.datetime) -> None:
    """Take back a counted try that did not fail (the row waits for a newer worker), saying why."""
    sql.update("inbound", inbound_id, {"attempts": attempts, "reason": reason, "updated_at": now})


def record_failure(inbound_id: int, reason: str, now: dt.datetime, *, final: bool) -> None:
    """Keep the last failure's reason; on the last try the row ends ``failed``."""
    values: dict[str, Any] = {"reason": reason, "updated_at": now}
    if final:
        values["status"] = InboundStatus.FAILED
    sql.update("inbound", inbound_id, values)


def finish(inbound_id: int, status: str, reason: str, ticket_id: int | None, now: dt.datetime) -> None:
    """How the pipeline ended with the row (``PROCESSED``, ``DUPLICATE``, ``QUARANTINED``)."""
    sql.update(
        "inbound",
        inbound_id,
        {"status": status, "reason": reason, "ticket_id": ticket_id, "processed_at": now, "updated_at": now},
    )


def quarantine(inbound_id: int, reason: str, now: dt.datetime) -> None:
    """Set the row aside for an operator, keeping how many tries it had."""
    sql.update("inbound", inbound_id, {"status": InboundStatus.QUARANTINED, "reason": reason, "updated_at": now})


PENDING = InboundStatus.PENDING
PROCESSED = InboundStatus.PROCESSED
DUPLICATE = InboundStatus.DUPLICATE
QUARANTINED = InboundStatus.QUARANTINED
