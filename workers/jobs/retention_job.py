"""The scheduler's retention job: the configuration file's policies, one holder at a time, logged and counted.

Runs every ``HELPLINE_RETENTION_INTERVAL_S`` under a lease (the lease table
the IMAP pollers and the incident grouper use), so two schedulers never apply
the same policy at once; each run is bounded (``retention.run``'s batches)
and the next continues where it stopped.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from prometheus_client import Counter, Gauge

from helpline.store.storage import blobs
from helpline.store.channels import imap_state
from helpline.store.config import Settings
from helpline.store.lifecycle import retention

log = logging.getLogger("helpline.workers")
LEASE = "job:retention"
REMOVED = Counter("helpline_retention_items_total", "Items removed by retention policies", ["kind"])
LAST_RUN = Gauge("helpline_retention_last_run_timestamp_seconds", "When retention last ran", multiprocess_mode="max")
_last: dict[str, float] = {}


def run_once(settings: Settings, *, dry_run: bool = False, holder: str | None = None) -> dict[str, Any]:
    """One run (or its dry run); {"skipped": why} when another process holds the lease or no policy exists."""
    policies = retention.load_policies(settings.config_file)
    if not policies:
        return {"skipped": "no [[retention.policies]] in the configuration file"}
    store = None if dry_run else blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    if dry_run:
        return retention.run(policies, None, batch=settings.retention_batch, dry_run=True).as_dict()
    holder = holder or f"{socket.gethostname()}:{os.getpid()}"
    if not imap_state.acquire_lease(LEASE, holder, max(60.0, settings.retention_interval_s)):
        return {"skipped": "another scheduler holds the retention lease"}
    try:
        started = time.monotonic()
        result = retention.run(policies, store, batch=settings.retention_batch)
    finally:
        imap_state.release_lease(LEASE, holder)
    for kind, n in result.counts.items():
        REMOVED.labels(kind).inc(n)
    LAST_RUN.set_to_current_time()
    log.info(
        "event=retention_run seconds=%.2f %s",
        time.monotonic() - started,
        " ".join(f"{k}={v}" for k, v in sorted(result.counts.items())) or "removed=0",
    )
    return result.as_dict()


def due_job(settings: Settings) -> dict[str, Any] | None:
    """For the scheduler's tick: a run when the interval has passed since the last one, else nothing."""
    now = time.monotonic()
    if now - _last.get(settings.config_file, -1e18) < settings.retention_interval_s:
        return None
    _last[settings.config_file] = now
    return run_once(settings)
