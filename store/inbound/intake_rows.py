"""The inbound rows intake writes: the row that makes an accepted message durable, and what intake asks of it.

An inbound row is unique on (channel, external id, content hash): a re-delivery
of the same content finds the first copy's row instead of making a second one.
These run inside the caller's transaction (``ingest/intake.py`` commits a whole
batch of them at once); ``insert`` is on the hot path, so it is plain SQL
(``fastsql``).
"""

from __future__ import annotations

import datetime as dt

from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.envelope import Envelope

KEY_TAKEN = -1  # insert's id when a strict channel's external id is stored with other content


def _received_at(env: Envelope) -> dt.datetime:
    """The envelope's ISO receive time as the naive UTC every stored time is."""
    return (
        dt.datetime.fromisoformat(env.received_at.replace("Z", "+00:00"))
        .astimezone(dt.timezone.utc)
        .replace(tzinfo=None)
    )


def insert(env: Envelope, raw_key: str, status: str, reason: str, strict: bool, source_host: str) -> tuple[int, bool]:
    """(id, created) of the message's row, inserting it unless the same content is stored already.

    ``strict`` (a channel whose external id is the caller's Idempotency-Key):
    (``KEY_TAKEN``, False) when that id is stored with other content. Without
    it, other content under a known id is another message (mail reusing a
    Message-ID: mail cannot be told no)."""
    stored = fastsql.fetchall(
        'SELECT id, content_hash FROM "inbound" WHERE channel = ? AND external_id = ?',
        [env.channel, env.external_id[:998]],
    )
    same = [row_id for row_id, digest in stored if digest == env.content_hash]
    if same:
        return int(same[0]), False
    if strict and stored:
        return KEY_TAKEN, False
    now = m.utcnow()
    new_id = fastsql.insert(
        "inbound",
        {
            "channel": env.channel,
            "external_id": env.external_id[:998],
            "content_hash": env.content_hash,
            "status": status,
            "reason": reason,
            "envelope": env.to_dict(),
            "raw_blob_key": raw_key,
            "attempts": 0,
            "received_at": _received_at(env),
            "updated_at": now,
            "source_host": source_host,
        },
    )
    return int(new_id), True


def id_of(env: Envelope) -> int:
    """The id of the row stored for exactly this message (a concurrent session's, after a unique-key race)."""
    key = (
        (m.Inbound.channel == env.channel)
        & (m.Inbound.external_id == env.external_id[:998])
        & (m.Inbound.content_hash == env.content_hash)
    )
    return int(m.Inbound.get(key).id)


def pending_since(inbound_id: int) -> dt.datetime | None:
    """When a row that still waits for a worker was last touched; None when it does not wait (or is gone)."""
    row = fastsql.fetchone('SELECT status, updated_at FROM "inbound" WHERE id = ?', [inbound_id])
    if not row or row[0] != m.InboundStatus.PENDING:
        return None
    return fastsql.as_datetime(row[1])


def quarantine(env: Envelope, raw_key: str, reason: str, received_at: dt.datetime, source_host: str) -> None:
    """Keep a message no worker may take, as a quarantined row; a second copy of it is not a second row."""
    m.Inbound.insert(
        channel=env.channel,
        external_id=env.external_id[:998],
        content_hash=env.content_hash,
        status=m.InboundStatus.QUARANTINED,
        reason=reason[:2000],
        envelope=env.to_dict(),
        raw_blob_key=raw_key,
        attempts=0,
        received_at=received_at,
        updated_at=m.utcnow(),
        source_host=source_host,
    ).on_conflict_ignore().execute()


def ticket_number_of(inbound_id: int) -> str:
    """The number of the ticket the row went to; "" while no worker has taken it (or it made none)."""
    row = (
        m.Ticket.select(m.Ticket.number)
        .join(m.Inbound, on=(m.Inbound.ticket == m.Ticket.id))
        .where(m.Inbound.id == inbound_id)
        .first()
    )
    return str(row.number) if row else ""
