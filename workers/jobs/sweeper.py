"""The safety net under the queue: nothing pending stays pending.

Redis may lose messages (a flush, a failover without persistence) and a worker
may die holding one; the database row is the truth. These sweeps find rows that
should have moved on and push them again; the actors are idempotent, so a row
pushed twice is processed once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from helpline.store.inbound import queue_rows
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.db import run_tx

log = logging.getLogger("helpline.workers")


def stale_inbound(settings: Settings, now: dt.datetime | None = None, limit: int = 1000) -> list[int]:
    """Claim pending rows untouched for ``pending_after_s`` (touching them, so the
    next sweep leaves them alone while they are being retried)."""
    at = now or utcnow()
    cutoff = at - dt.timedelta(seconds=settings.pending_after_s)
    return run_tx(lambda: queue_rows.claim_stale_inbound(cutoff, at, limit))


def sweep_inbound(settings: Settings, submit: Callable[[int], None]) -> int:
    ids = stale_inbound(settings)
    for inbound_id in ids:
        submit(inbound_id)
    if ids:
        log.info("event=inbound_requeued count=%d first=%d", len(ids), ids[0])
    return len(ids)
