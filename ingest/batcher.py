"""Group commit for intake: one thread, many messages per durable transaction.

Under load, messages that arrive while a commit is in flight wait for the
next one and share its fsync, so the cost of durability per message falls as
the load rises, while a lone message still commits at once (the thread never
waits to fill a batch).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import TypeVar

from helpline.ingest.enqueuer import Enqueuer
from helpline.ingest.intake import EmailIntake, IntakeResult, Offer, RequestOffer

log = logging.getLogger("helpline.ingest")
OfferT = TypeVar("OfferT", Offer, RequestOffer)


class IntakeBatcher:
    def __init__(self, intake: EmailIntake, max_batch: int = 32) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue[tuple[Offer | RequestOffer, Future[IntakeResult]] | None] = queue.SimpleQueue()
        # The queue hears of committed rows from a thread of its own: a hung broker never slows a commit.
        self.enqueuer = Enqueuer(intake.try_submit)
        self.thread = threading.Thread(target=self._run, name="intake-batcher", daemon=True)
        self.thread.start()

    def submit(self, offer: Offer | RequestOffer) -> Future[IntakeResult]:
        fut: Future[IntakeResult] = Future()
        self.queue.put((offer, fut))
        return fut

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self.queue.put(None)
        self.thread.join()
        self.enqueuer.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            durable: list[int] = []
            mail = [(offer, fut) for offer, fut in batch if isinstance(offer, Offer)]
            requests = [(offer, fut) for offer, fut in batch if isinstance(offer, RequestOffer)]
            done = _accept(mail, partial(self.intake.accept_batch, defer_submit=durable)) + _accept(
                requests, partial(self.intake.accept_requests, defer_submit=durable)
            )
            for fut, result in done:
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
            self.enqueuer.put(durable)  # the senders have their answer; now the queue


def _accept(
    group: list[tuple[OfferT, Future[IntakeResult]]],
    accept: Callable[[list[OfferT]], list[IntakeResult | BaseException]],
) -> list[tuple[Future[IntakeResult], IntakeResult | BaseException]]:
    """One kind of offer through its group commit, each future paired with its result; when the commit
    itself fails, its exception is every offer's result (a sender is never left hanging)."""
    if not group:
        return []
    try:
        results = accept([offer for offer, _ in group])
    except BaseException as exc:  # never leave a sender hanging
        log.exception("event=intake_batch_failed size=%d", len(group))
        results = [exc] * len(group)
    return [(fut, result) for (_, fut), result in zip(group, results, strict=True)]
