"""The pipeline's messages: a customer's message with its attachments, our automatic replies, and the
lookups that recognise a copy of a message or a report about one of ours.

Plain SQL through ``fastsql`` (the hot path), inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from helpline.store import batch_cache
from helpline.store import fastsql as sql
from helpline.store.envelope import Envelope


def add_inbound(
    ticket_id: int,
    inbound_id: int | None,
    env: Envelope,
    body_hash: str,
    now: dt.datetime,
    extra: dict[str, Any] | None = None,
) -> int:
    """The message row of an inbound envelope and its attachments; ``extra``: more columns (the triage
    stage's language and sentiment)."""
    mid = sql.insert(
        "message",
        {
            "ticket_id": ticket_id,
            "inbound_id": inbound_id,
            "direction": "in",
            "author_role": env.author_role,
            "author": env.sender.name,
            "channel": env.channel,
            "external_id": env.external_id[:998],
            "message_id": env.thread.message_id.lower()[:998],
            "sender": env.sender.address,
            "subject": env.subject[:1000],
            "text": env.text,
            "full_text": env.full_text,
            "html": env.html,
            "body_hash": body_hash,
            "raw_blob_key": env.raw_blob_key,
            "auth": env.auth or None,
            "warnings": env.warnings or None,
            "delivery_status": "",
            "created_at": now,
            **(extra or {}),
        },
    )
    cache = batch_cache.current()
    if cache is not None and body_hash:  # a later copy in the same batch finds this one without asking
        cache.append_dup(
            (env.sender.address, body_hash), batch_cache.DupRow(now, mid, ticket_id, env.external_id[:998])
        )
    if env.attachments:
        sql.insert_many(
            "attachment",
            [
                {
                    "message_id": mid,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "blob_key": a.blob_key,
                    "inline": a.inline,
                    "content_id": a.content_id,
                }
                for a in env.attachments
            ],
        )
    return mid


def add_outbound(
    ticket_id: int,
    *,
    channel: str,
    author_role: str,
    message_id: str,
    sender: str,
    subject: str,
    text: str,
    now: dt.datetime,
) -> int:
    return sql.insert(
        "message",
        {
            "ticket_id": ticket_id,
            "direction": "out",
            "author_role": author_role,
            "author": "",
            "channel": channel,
            "external_id": "",
            "message_id": message_id,
            "sender": sender,
            "subject": subject,
            "text": text,
            "full_text": "",
            "html": "",
            "body_hash": "",
            "raw_blob_key": "",
            "delivery_status": "",
            "created_at": now,
        },
    )


@dataclass
class DuplicateRef:
    message_id: int
    ticket_id: int
    external_id: str


def recent_duplicate(sender: str, body_hash: str, since: dt.datetime) -> DuplicateRef | None:
    """The newest inbound message from ``sender`` with this text since ``since``."""
    if not body_hash or not sender:
        return None
    cache = batch_cache.current()
    if cache is not None:
        if (sender, body_hash) not in cache.dups:
            read_inbound_hashes(cache, [(sender, body_hash)])
        recent = [d for d in cache.dups[(sender, body_hash)] if d.created_at >= since]
        if not recent:
            return None
        d = max(recent, key=lambda d: (d.created_at, d.id))
        return DuplicateRef(d.id, d.ticket_id, d.external_id)
    row = sql.fetchone(
        'SELECT id, ticket_id, external_id FROM "message" WHERE body_hash = ? AND sender = ? '
        "AND direction = 'in' AND created_at >= ? ORDER BY created_at DESC LIMIT 1",
        [body_hash, sender, since],
    )
    return DuplicateRef(*row) if row else None


def read_inbound_hashes(cache: batch_cache.BatchCache, pairs: list[tuple[str, str]]) -> None:
    """The inbound messages with these (sender, body hash) pairs into the batch's cache, in statements of at
    most 500 hashes. Every such message is kept, whatever its age: each copy has its own window."""
    todo = [p for p in dict.fromkeys(pairs) if p[0] and p[1] and p not in cache.dups]
    for i in range(0, len(todo), 500):
        part = todo[i : i + 500]
        hashes = sorted({h for _, h in part})
        rows = sql.fetchall(
            'SELECT sender, body_hash, created_at, id, ticket_id, external_id FROM "message" '
            f"WHERE body_hash IN ({sql.in_marks(len(hashes))}) AND direction = 'in'",
            hashes,
        )
        found: dict[tuple[str, str], list[batch_cache.DupRow]] = {p: [] for p in part}
        for r in rows:
            got = found.get((r[0], r[1]))
            if got is not None:
                got.append(batch_cache.DupRow(sql.as_datetime(r[2]) or dt.datetime.min, r[3], r[4], r[5]))
        for p, rs in found.items():
            cache.put(cache.dups, p, rs)


def outbound_tickets(message_ids: list[str]) -> list[int]:
    """Tickets of our outbound messages with these Message-IDs (any bracket or case form)."""
    bare = sorted({i.strip().strip("<>").lower() for i in message_ids if i and i.strip()})
    if not bare:
        return []
    rows = sql.fetchall(
        f"SELECT DISTINCT ticket_id FROM \"message\" WHERE direction = 'out' "
        f"AND message_id IN ({sql.in_marks(len(bare))})",
        bare,
    )
    return [r[0] for r in rows]


def add_sms_media(message_id: int, position: int, media: dict[str, Any], now: dt.datetime) -> int | None:
    """An MMS attachment to fetch after the commit; None when it is already recorded."""
    return sql.insert(
        "sms_media",
        {
            "message_id": message_id,
            "position": position,
            "url": media["url"],
            "content_type": media.get("content_type", ""),
            "status": "pending",
            "attempts": 0,
            "last_error": "",
            "size": None,
            "blob_key": "",
            "created_at": now,
            "updated_at": now,
        },
        on_conflict="ON CONFLICT DO NOTHING",
    )
