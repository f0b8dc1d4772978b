"""What ``helpline bench`` reads back from the store after sending: which rows a worker finished, when each
message's ticket message was written, and the tickets and acknowledgements the run made.

Reads only, outside any transaction of the stack under test; the lists of ids are taken in chunks of 500
so that no statement outgrows an engine's parameter limit.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, cast

import peewee as pw

from helpline.store import models as m

CHUNK = 500


def any_finished() -> bool:
    """Whether a worker has finished any inbound row (the warm-up message went through)."""
    return bool(m.Inbound.select().where(m.Inbound.status != m.InboundStatus.PENDING).count())


def sms_ids(external_ids: list[str]) -> dict[str, int]:
    """Inbound ids of SMS rows by their external id (a Twilio answer carries no inbound id)."""
    out: dict[str, int] = {}
    for i in range(0, len(external_ids), CHUNK):
        part = external_ids[i : i + CHUNK]
        for row in m.Inbound.select(m.Inbound.id, m.Inbound.external_id).where(
            (m.Inbound.channel == "sms") & m.Inbound.external_id.in_(part)
        ):
            out[str(row.external_id)] = int(row.id)
    return out


def finished(inbound_ids: Iterable[int]) -> dict[int, str]:
    """The status of each of these rows that a worker has finished (no longer pending)."""
    ids = list(inbound_ids)
    out: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        for row in m.Inbound.select(m.Inbound.id, m.Inbound.status).where(
            m.Inbound.id.in_(ids[i : i + CHUNK]) & (m.Inbound.status != m.InboundStatus.PENDING)
        ):
            out[int(row.id)] = str(row.status)
    return out


def message_times(inbound_ids: list[int]) -> dict[int, dt.datetime]:
    """When the ticket message of each of these rows was written, by inbound id."""
    out: dict[int, dt.datetime] = {}
    for i in range(0, len(inbound_ids), CHUNK):
        for msg in m.Message.select(m.Message.inbound, m.Message.created_at).where(
            m.Message.inbound.in_(inbound_ids[i : i + CHUNK])
        ):
            out[int(msg.inbound_id or 0)] = msg.created_at
    return out


def ticket_count() -> int:
    return int(m.Ticket.select().count())


def acks_sent() -> int:
    """Acknowledgements the outbox has sent."""
    return int(m.Outbox.select().where((m.Outbox.kind == "ack") & (m.Outbox.status == m.OutboxStatus.SENT)).count())


def acks_queued_by_channel() -> dict[str, int]:
    """Acknowledgements in the outbox (sent or not), by channel."""
    rows = (
        m.Outbox.select(m.Outbox.channel, pw.fn.COUNT(m.Outbox.id))
        .where(m.Outbox.kind == "ack")
        .group_by(m.Outbox.channel)
        .tuples()
    )
    return {str(channel): int(n) for channel, n in cast(Iterable[tuple[str, int]], rows)}
