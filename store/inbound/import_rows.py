"""The rows a history import writes besides the pipeline's own: its inbound rows.

An imported inbound row is an ordinary email row whose ``source_host`` names
the import (``import:<file>``), so reports and operators can tell imported
history from live mail, and whose unique (channel, external_id, content_hash)
key makes a second run over the same file find the first run's rows instead
of doubling them.
"""

from __future__ import annotations

import datetime as dt

from helpline.store import fastsql
from helpline.store import models as m
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
