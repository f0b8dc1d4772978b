"""The rows the task queue's messages name (a message carries only the row's id): what the actors and the
sweeper read and touch of them.

The database row is the truth, the queue message a hint: the sweeper claims inbound rows left pending too
long and pushes their ids again; an actor reads the row's attempt count (the guard against a message that
keeps killing its worker) and an outbox row's channel (which sender takes it).
"""

from __future__ import annotations

import datetime as dt

from helpline.store import models as m


def claim_stale_inbound(cutoff: dt.datetime, now: dt.datetime, limit: int) -> list[int]:
    """Ids of pending inbound rows untouched since ``cutoff``, oldest first, touched at ``now`` so the next
    sweep leaves them alone while they are retried (inside the caller's transaction)."""
    ids = [
        r.id
        for r in m.Inbound.select(m.Inbound.id)
        .where((m.Inbound.status == m.InboundStatus.PENDING) & (m.Inbound.updated_at < cutoff))
        .order_by(m.Inbound.id)
        .limit(limit)
    ]
    if ids:
        m.Inbound.update(updated_at=now).where(m.Inbound.id.in_(ids)).execute()
    return ids


def inbound_attempts(inbound_id: int) -> int:
    """How many workers began this inbound row (0 when there is no such row)."""
    row = m.Inbound.get_or_none(m.Inbound.id == inbound_id)
    return int(row.attempts) if row else 0


def outbox_channel(outbox_id: int) -> str | None:
    """The outbox row's channel; None when there is no such row."""
    row = m.Outbox.get_or_none(m.Outbox.id == outbox_id)
    return str(row.channel) if row is not None else None
