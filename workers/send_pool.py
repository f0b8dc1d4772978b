"""Sends that follow a commit, on threads of their own: a hung relay never holds the pipeline.

The pipeline commits a ticket with its acknowledgement already claimed
(``sending``) and asks for it to go out at once. Sending on the worker thread
itself meant that a relay which stops answering held every worker thread for
its timeout, and no ticket was made meanwhile. Here the send goes to a small
pool (``THREADS`` per worker process, each with its own kept relay connection)
with a bounded backlog; when the backlog is full the claimed rows are released
to ``pending`` at once, for the scheduler's delivery rounds, instead of waiting
for a thread. A job that waited longer than ``MAX_WAIT_S`` for a thread (the
relay is hanging every send) is not tried either but handed back the same way,
so the backlog empties in seconds and a stopping worker is not held for it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger("helpline.workers")

THREADS = 4  # per worker process; the relay's own timeout bounds each send
BACKLOG = 256  # send jobs waiting for a thread; more means the relay is not keeping up
MAX_WAIT_S = 5.0  # a job queued longer goes back to the scheduler untried


class SendPool:
    def __init__(self, threads: int = THREADS, backlog: int = BACKLOG, max_wait_s: float = MAX_WAIT_S) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="outbox-send")
        self._room = threading.BoundedSemaphore(backlog + threads)
        self._max_wait_s = max_wait_s

    def submit(self, job: Callable[[], object], what: str, *, give_back: Callable[[], object] | None = None) -> bool:
        """Run ``job`` on a send thread; False (nothing run) when the backlog is full. A job that
        waits longer than ``max_wait_s`` runs ``give_back`` instead (if any) and is dropped."""
        if not self._room.acquire(blocking=False):
            log.warning("event=send_backlog_full job=%s", what)
            return False
        queued = time.monotonic()

        def run() -> None:
            try:
                if time.monotonic() - queued > self._max_wait_s:
                    log.warning("event=send_job_stale job=%s", what)
                    if give_back is not None:
                        give_back()
                    return
                job()
            except Exception as exc:  # the job records its own outcome; this is a bug's last stop
                log.warning("event=send_job_failed job=%s error=%s", what, type(exc).__name__)
            finally:
                self._room.release()

        try:
            self._executor.submit(run)
        except RuntimeError:  # shutting down
            self._room.release()
            return False
        return True

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)


_pool: SendPool | None = None
_pool_lock = threading.Lock()


def pool() -> SendPool:
    """This process's pool, made on first use (after a fork, in the child that sends)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = SendPool()
        return _pool
