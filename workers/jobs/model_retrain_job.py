"""The scheduler's opt-in retrain: ``helpline model train --from-tickets --gate`` every
``HELPLINE_MODEL_RETRAIN_INTERVAL_S``, one holder at a time, without taking the pipeline's cores.

Due when the last ``category_model_gate`` event is older than the interval (the
database says so, so a restart or another host does not retrain early). The run
holds a lease (the table the IMAP pollers, the incident grouper and retention
use) and is a subprocess at nice 10 with one thread for BLAS/OpenMP and one
cross-validation job, in a thread of its own so that the scheduler's sweeps go on.
A run that fails (too few labelled tickets, a database error) is tried again an
hour later at the earliest.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from helpline.store.channels import imap_state
from helpline.store.tickets import model_events
from helpline.store.config import Settings

log = logging.getLogger("helpline.workers")
LEASE = "job:model-retrain"
LEASE_TTL_S = 2 * 3600.0  # a retrain takes minutes; the lease outlives a crashed holder by this much at most
RETRY_S = 3600.0
NICE = 10
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_state: dict[str, Any] = {"thread": None, "tried": -1e18}


def command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "helpline.ingest.cli",
        "model",
        "train",
        "--from-tickets",
        "--gate",
        "--json",
        "--jobs",
        "1",
    ]


def _niced() -> None:  # runs in the child before exec
    os.nice(NICE)


def run_retrain(settings: Settings, holder: str, timeout_s: float = 3600.0) -> subprocess.CompletedProcess[str]:
    """The retrain subprocess under the lease (which the caller has taken); released at the end."""
    env = {**os.environ, **{k: "1" for k in THREAD_ENV}}
    try:
        started = time.monotonic()
        proc = subprocess.run(command(), env=env, capture_output=True, text=True, timeout=timeout_s, preexec_fn=_niced)
        log.info(
            "event=model_retrain rc=%d seconds=%.1f result=%s",
            proc.returncode,
            time.monotonic() - started,
            (
                proc.stdout.strip().replace("\n", " ")[:400]
                if proc.returncode == 0
                else proc.stderr.strip().splitlines()[-1:] or ""
            ),
        )
        return proc
    finally:
        imap_state.release_lease(LEASE, holder)


def due(settings: Settings, now: dt.datetime | None = None) -> bool:
    if settings.model_retrain_interval_s <= 0:
        return False
    last = model_events.last_gate_at()
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if last is not None and last.tzinfo is not None:
        last = last.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return last is None or (now - last).total_seconds() >= settings.model_retrain_interval_s


def due_job(settings: Settings) -> dict[str, Any] | None:
    """For the scheduler's tick: start a retrain in the background when one is due, else nothing."""
    running = _state["thread"]
    if running is not None and running.is_alive():
        return {"running": True}
    if time.monotonic() - _state["tried"] < min(RETRY_S, settings.model_retrain_interval_s) or not due(settings):
        return None
    holder = f"{socket.gethostname()}:{os.getpid()}"
    if not imap_state.acquire_lease(LEASE, holder, LEASE_TTL_S):
        return {"skipped": "another scheduler holds the retrain lease"}
    _state["tried"] = time.monotonic()
    thread = threading.Thread(target=run_retrain, args=(settings, holder), name="model-retrain", daemon=True)
    _state["thread"] = thread
    thread.start()
    return {"started": True}
