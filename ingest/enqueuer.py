"""Putting committed rows on the queue, off the group-commit thread.

The rows are durable before the queue hears of them, so a slow or hung broker
must not slow intake: the batcher hands the ids here and moves on to the next
commit. Ids the broker did not take are held and tried again every
``RETRY_S`` (seconds, not the sweeper's minutes: the row is known to be
unqueued); past ``MAX_HELD`` the oldest are left to the sweeper, which finds
every pending row eventually.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

log = logging.getLogger("helpline.ingest")

RETRY_S = 2.0
MAX_HELD = 100_000


class Enqueuer:
    def __init__(
        self, submit: Callable[[list[int]], list[int]], *, retry_s: float = RETRY_S, max_held: int = MAX_HELD
    ) -> None:
        """``submit`` enqueues ids and returns those it could not."""
        self._submit = submit
        self._retry_s = retry_s
        self._max_held = max_held
        self._queue: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self.held: list[int] = []
        self._thread = threading.Thread(target=self._run, name="intake-enqueuer", daemon=True)
        self._thread.start()

    def put(self, inbound_ids: list[int]) -> None:
        """Never blocks."""
        if inbound_ids:
            self._queue.put(list(inbound_ids))

    def close(self, timeout: float = 5.0) -> None:
        """One last try for what is queued or held; rows left are the sweeper's."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self._retry_s if self.held else None)
            except queue.Empty:
                item = []
            if item is None:
                stopping, item = True, []
            fresh = list(item)
            while True:  # everything that queued up meanwhile goes in this round
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                fresh += more
            ids = self.held + fresh
            if not ids:
                continue
            try:
                failed = self._submit(ids)
            except Exception as exc:  # submit reports failures itself; this is a bug's last stop
                log.warning("event=enqueue_round_failed error=%s", type(exc).__name__)
                failed = ids
            if len(failed) > self._max_held:
                log.warning(
                    "event=enqueue_backlog_dropped count=%d hint=the_sweeper_enqueues_them",
                    len(failed) - self._max_held,
                )
                failed = failed[-self._max_held :]
            if failed and not self.held:
                log.warning("event=enqueue_deferred count=%d retry_s=%s", len(failed), self._retry_s)
            elif self.held and not failed:
                log.info("event=enqueue_recovered count=%d", len(ids))
            self.held = failed
