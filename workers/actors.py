"""The actors: thin wrappers that count the attempt, call the pipeline, commit.

Declared against a stub broker at import; ``broker.setup`` binds them to the
real one. Every actor is idempotent: Redis may deliver a message twice, and the
sweeper re-enqueues rows it thinks are lost.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from helpline.store import db
from helpline.store.storage import blobs
from helpline.store.inbound import queue_rows
from helpline.store.config import Settings
from helpline.store.envelope import ENVELOPE_VERSION, NewerEnvelope

from helpline.workers import metrics, pipeline, retry_budget, send_pool

log = logging.getLogger("helpline.workers")
_stub = StubBroker()
_state: dict[str, Any] = {}
_newer_seen: set[int] = set()  # envelope versions already logged at WARNING by this process

INBOUND_QUEUE = "inbound"
OUTBOX_QUEUE = "outbox"


def configure(settings: Settings) -> None:
    """Per-process set-up: database, blob store, senders."""
    _state["settings"] = settings
    if db.proxy.obj is None:
        db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    _state["blobs"] = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    _state.pop("senders", None)


def settings() -> Settings:
    try:
        return _state["settings"]
    except KeyError:
        raise RuntimeError("workers.broker.setup(settings) was not called in this process") from None


def senders() -> dict:
    """This process's sender per channel (connections are kept per thread inside each)."""
    if "senders" not in _state:
        from helpline.notifier.senders import make_senders
        from helpline.router.categories.category import active_labels, models_dir_for

        labels = functools.partial(active_labels, models_dir_for(settings()))
        _state["senders"] = make_senders(settings(), categories=labels)
    return _state["senders"]


@dramatiq.actor(broker=_stub, queue_name=INBOUND_QUEUE)
def process_inbound(inbound_id: int) -> None:
    """One row. An exception propagates to Dramatiq's Retries middleware, which tries again with back-off
    until the budget is used up (``retry_budget``); the last try marks the row failed first."""
    s = settings()
    started = time.perf_counter()
    done = pipeline.begin_attempt(inbound_id, s.max_attempts)
    if done is not None:
        metrics.observe(done.action, time.perf_counter() - started)
        return
    _run(inbound_id, s, started, retry_budget.retries_done())


@dramatiq.actor(broker=_stub, queue_name=INBOUND_QUEUE)
def process_inbound_batch(inbound_ids: list[int]) -> None:
    """Rows the ingest daemon committed together, in one queue message: the
    queue's cost per message (enqueue, fetch, ack: about a third of a
    worker's CPU per message) is paid once per batch, and the attempts are
    counted in one transaction. A row that fails goes back to the queue on
    its own with the usual retries; see ``pipeline.begin_attempts`` for a
    batch that dies halfway."""
    s = settings()
    first, alone = pipeline.begin_attempts(inbound_ids)
    for inbound_id in alone:
        process_inbound.send(inbound_id)
    if not first:
        return
    started = time.perf_counter()
    try:
        results = pipeline.process_batch(first, s)
    except Exception as exc:  # the database went away mid-batch: every row is still pending
        log.warning("event=inbound_batch_failed rows=%d error=%s", len(first), type(exc).__name__)
        for inbound_id in first:
            process_inbound.send_with_options(args=(inbound_id,), delay=500)
        return
    done: list[tuple[int, pipeline.Outcome]] = []
    for inbound_id, result in zip(first, results, strict=True):
        if isinstance(result, pipeline.Outcome):
            _processed(inbound_id, result, started)
            done.append((inbound_id, result))
            continue
        log.info("event=inbound_batch_row_alone inbound=%d error=%s", inbound_id, type(result).__name__)
        try:  # on its own path: its retries for a thread race, its failure record otherwise
            _run(inbound_id, s, time.perf_counter(), retries=0)  # the batch's retries are not this row's
        except Exception:
            process_inbound.send_with_options(args=(inbound_id,), delay=500)
    _send_claimed(s, [row for _, outcome in done for row in outcome.claimed])
    for inbound_id, outcome in done:
        _after(inbound_id, outcome, claimed=False)


def _run(inbound_id: int, s: Settings, started: float, retries: int) -> None:
    """One counted attempt: the pipeline, then the sends it asked for right away."""
    try:
        outcome = pipeline.process(inbound_id, s)
    except NewerEnvelope as exc:
        _defer_newer(inbound_id, exc, s)
        metrics.observe("deferred", time.perf_counter() - started)
        return
    except Exception as exc:
        final = retry_budget.is_last_try(s, queue_rows.inbound_attempts(inbound_id), retries)
        pipeline.record_failure(inbound_id, exc, final=final)
        metrics.observe("error", time.perf_counter() - started)
        log.warning("event=inbound_failed inbound=%d final=%s error=%s", inbound_id, final, type(exc).__name__)
        raise
    _processed(inbound_id, outcome, started)
    _after(inbound_id, outcome)


def newer_delay_ms(s: Settings) -> int:
    """How long a row this worker cannot read waits before the queue offers it again: the sweeper's
    ``pending_after_s``, the time after which it would be re-enqueued anyway, within RabbitMQ's bound."""
    return max(500, min(int(s.pending_after_s * 1000), retry_budget.MAX_DELAY_MS))


def _defer_newer(inbound_id: int, exc: NewerEnvelope, s: Settings) -> None:
    """A rolling upgrade: the ingest daemons (or some workers) run a newer release than this worker. The
    message is not at fault, so no try is spent (a raise would burn Dramatiq's retries and dead-letter it):
    the counted attempt is taken back and the message goes back on the queue with a delay, for a newer worker
    to take (or this one, after an upgrade). Logged at WARNING once per version and process, since every
    message of a newer ingest would repeat it."""
    delay = newer_delay_ms(s)
    pipeline.defer(inbound_id, f"waiting for a worker that reads {exc} (deferred, no try spent)")
    process_inbound.send_with_options(args=(inbound_id,), delay=delay)
    metrics.deferred(exc.version)  # the once-per-version warning below is no signal that it goes on; this is
    if exc.version not in _newer_seen:
        _newer_seen.add(exc.version)
        log.warning(
            "event=envelope_too_new version=%d understood=%d action=deferred delay_s=%g inbound=%d "
            "hint=upgrade_the_workers_before_the_ingest_daemons",
            exc.version,
            ENVELOPE_VERSION,
            delay / 1000,
            inbound_id,
        )
    else:
        log.debug("event=envelope_too_new version=%d action=deferred inbound=%d", exc.version, inbound_id)


def _processed(inbound_id: int, outcome: pipeline.Outcome, started: float) -> None:
    metrics.observe(outcome.action, time.perf_counter() - started)
    log.info(
        "event=inbound_processed inbound=%d action=%s ticket=%s stages=%s",
        inbound_id,
        outcome.action,
        outcome.ticket_id,
        outcome.stages or "-",
    )  # the deciding stages, "name:what" (no personal data)


def _send_claimed(s: Settings, rows: list) -> None:
    """Rows the pipeline created already marked ``sending`` (acknowledgements), per channel, sent
    on the send pool (``send_pool``), never on this thread. With the pool's backlog full they are
    released to ``pending`` for the scheduler; should the process die first, ``recover_stuck``
    takes them after the lease."""
    from helpline.notifier.deliver import deliver_claimed_many

    by_channel: dict[str, list] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    for channel, group in by_channel.items():

        def job(channel: str = channel, group: list = group) -> None:
            deliver_claimed_many(s, senders()[channel], group, senders=senders())

        def give_back(group: list = group) -> None:
            try:
                outbox_release([r.id for r in group])
            except Exception as exc:  # left 'sending': recover_stuck takes them after the lease
                log.warning(
                    "event=claim_release_failed outbox=%s error=%s",
                    ",".join(str(r.id) for r in group),
                    type(exc).__name__,
                )

        if not send_pool.pool().submit(job, f"claimed:{channel}:{len(group)}", give_back=give_back):
            give_back()


def _after(inbound_id: int, outcome: pipeline.Outcome, *, claimed: bool = True) -> None:
    """What a committed outcome asks for at once: sends, delayed sends, MMS media fetches."""
    if claimed:
        _send_claimed(settings(), outcome.claimed)
    for oid in outcome.outbox_ids:
        # On the send pool's kept relay connections: one queue hop less per message, and
        # never on this thread. Not taken (backlog full) or failed, the row stays due for
        # the scheduler, which retries it with back-off.
        send_pool.pool().submit(lambda oid=oid: _deliver(oid), f"outbox:{oid}")
    for oid, seconds in outcome.delayed:  # an undo window: sent when it closes (else by the scheduler, when due)
        try:
            deliver_outbox.send_with_options(args=(oid,), delay=int(seconds * 1000) + 50)
        except Exception as exc:
            log.warning("event=delayed_delivery_enqueue_failed outbox=%d error=%s", oid, type(exc).__name__)
    if outcome.action == "created" and outcome.ticket_id is not None and _kb_material():  # off the hot path
        try:
            suggest_answers.send(outcome.ticket_id)
        except Exception as exc:
            log.warning("event=suggest_enqueue_failed ticket=%d error=%s", outcome.ticket_id, type(exc).__name__)
    if outcome.media_ids:  # MMS media: fetched off this thread; the scheduler's sweep catches a lost message
        try:
            fetch_sms_media.send(outcome.media_ids)
        except Exception as exc:
            log.warning("event=mms_fetch_enqueue_failed inbound=%d error=%s", inbound_id, type(exc).__name__)


def _kb_material(ttl_s: float = 30.0) -> bool:
    """Whether there is anything to suggest (an article, a resolved ticket), checked at most every ``ttl_s``:
    a desk without a knowledge base pays no queue message per new ticket."""
    now = time.monotonic()
    if now - _state.get("kb_checked", -ttl_s) >= ttl_s:
        from helpline.store.knowledge import kb_state

        try:
            _state["kb_material"] = kb_state.has_material()
        except Exception as exc:  # the suggestion is optional; the ticket is committed
            log.warning("event=kb_check_failed error=%s", type(exc).__name__)
            _state["kb_material"] = False
        _state["kb_checked"] = now
    return bool(_state.get("kb_material"))


def _deliver(outbox_id: int) -> None:
    from helpline.notifier.deliver import deliver_one

    channel = queue_rows.outbox_channel(outbox_id)
    sender = senders().get(channel) if channel is not None else None
    if sender is not None:
        deliver_one(settings(), sender, outbox_id, senders=senders())


def outbox_release(row_ids: list[int]) -> None:
    from helpline.notifier.outbox import release_claims

    release_claims(row_ids)


@dramatiq.actor(broker=_stub, queue_name=OUTBOX_QUEUE)
def deliver_outbox(outbox_id: int) -> None:
    _deliver(outbox_id)


@dramatiq.actor(broker=_stub, queue_name=OUTBOX_QUEUE)
def fetch_sms_media(media_ids: list[int]) -> None:
    from helpline.notifier.sms import sms_media

    sms_media.fetch(media_ids, settings(), blob_store())


@dramatiq.actor(broker=_stub, queue_name=OUTBOX_QUEUE, priority=100)  # low priority; the one retry budget
def suggest_answers(ticket_id: int) -> None:
    """Suggested answers of a new ticket, after its commit; low priority: sends go first."""
    from helpline.workers.jobs import kb_suggestions

    for oid in kb_suggestions.suggest_for_ticket(ticket_id, settings()):
        try:
            _deliver(oid)
        except Exception as exc:  # committed: the scheduler's sweep sends it
            log.warning("event=inline_delivery_failed outbox=%d error=%s", oid, type(exc).__name__)


def blob_store() -> blobs.BlobStore:
    return _state["blobs"]


ALL: list[dramatiq.Actor[Any, Any]] = [
    process_inbound,
    process_inbound_batch,
    deliver_outbox,
    fetch_sms_media,
    suggest_answers,
]


def submit(inbound_id: int) -> None:
    """The queue's front door, the one thing ``ingest`` calls."""
    process_inbound.send(inbound_id)


def submit_many(inbound_ids: list[int]) -> None:
    """The front door for rows committed together: batches of up to
    ``inbound_batch_size`` per queue message, a lone row as itself."""
    size = max(1, settings().inbound_batch_size)
    for i in range(0, len(inbound_ids), size):
        chunk = inbound_ids[i : i + size]
        if len(chunk) == 1:
            process_inbound.send(chunk[0])
        else:
            process_inbound_batch.send(chunk)
