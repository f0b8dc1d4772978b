"""One inbound row in, one decision out: the worker pipeline.

The pipeline is an ordered list of named stages (``workers/stages/``, the list is ``stages.ORDER``), each a
function of a ``Context`` that returns a decision or nothing. This module loads the row, runs the stages in
order in one transaction (so that a ticket, its message, its events and the outbox rows it causes commit
together or not at all; re-running the pipeline on a processed row changes nothing), and records how the
row ended. It logs one line per message at INFO naming the deciding stages (the worker's
``event=inbound_processed``), and each stage at DEBUG.
"""

from __future__ import annotations

import functools
import logging

from helpline.store import import_mode
from helpline.store.inbound import inbound_state
from helpline.store.inbound.audit_events import buffered_events, event
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.db import UNAVAILABLE, database, priority_writer_waiting, run_tx
from helpline.store.envelope import Envelope
from helpline.store.inbound.thread_state import KeyRace

from helpline.workers import stages
from helpline.workers.inbound import duplicates
from helpline.workers.inbound import inbound_channels
from helpline.workers.inbound import threads
from helpline.workers.tickets import triage
from helpline.workers.stages.context import Context, Outcome, Prepared
from helpline.workers.stages.triage import categorise

log = logging.getLogger("helpline.workers")
_stage_log = logging.getLogger("helpline.workers.stages")

__all__ = [
    "Outcome",
    "Prepared",
    "begin_attempt",
    "begin_attempts",
    "defer",
    "prepare",
    "prepare_envelope",
    "process",
    "process_batch",
    "record_failure",
    "run_stages",
]


# ---- attempts: committed before each try --------------------------------------
def begin_attempt(inbound_id: int, max_attempts: int) -> Outcome | None:
    """Count this try before doing any work, so a message that kills its worker
    (out of memory, SIGKILL) is quarantined after ``max_attempts`` instead of
    looping forever. Returns an Outcome when there is nothing to do."""

    def tx() -> Outcome | None:
        row = inbound_state.lock(inbound_id, with_envelope=False)
        if row is None:
            return Outcome("missing", reason=f"inbound {inbound_id} does not exist")
        if not row.pending:
            return Outcome("noop", row.ticket_id)
        now = utcnow()
        if row.attempts >= max_attempts:
            last = row.reason or "the worker died while processing it (killed or out of memory)"
            reason = f"quarantined after {row.attempts} attempts; last: {last}"
            inbound_state.quarantine(row.id, reason, now)
            event(None, "inbound_quarantined", {"inbound": row.id, "reason": reason}, now=now)
            return Outcome("quarantined", reason=reason)
        inbound_state.count_attempt(row.id, row.attempts + 1, now)
        return None

    # Not fsync'd: a process crash keeps the count (it is in the WAL / the
    # server), only a power cut may lose it, and a power cut is no crash loop.
    return run_tx(tx, durable=False)


def begin_attempts(inbound_ids: list[int]) -> tuple[list[int], list[int]]:
    """``begin_attempt`` for a batch in one transaction: (run now, run alone).

    Rows on their first try are counted and run now. A row that already had
    a try (this batch died halfway, or the row failed before) is not counted
    here but handed back to run on its own, so a message that kills its
    worker is isolated after one crash and never uses up its neighbours'
    attempts. Rows already done are left out of both lists."""

    def tx() -> tuple[list[int], list[int]]:
        counted = set(inbound_state.count_first_attempts(inbound_ids, utcnow()))  # one statement for the usual case
        rest = [i for i in inbound_ids if i not in counted]
        retried = set(inbound_state.pending_with_attempts(rest)) if rest else set()
        return [i for i in inbound_ids if i in counted], [i for i in inbound_ids if i in retried]

    return run_tx(tx, durable=False)  # not fsync'd, as in begin_attempt


def record_failure(inbound_id: int, error: BaseException, *, final: bool) -> None:
    """Keep the reason on the row; on the last try the row ends ``failed``, visibly."""
    reason = f"{type(error).__name__}: {error}"[:2000]

    def tx() -> None:
        row = inbound_state.lock(inbound_id, with_envelope=False)
        if row is None or not row.pending:
            return
        inbound_state.record_failure(row.id, reason, utcnow(), final=final)

    run_tx(tx)


def defer(inbound_id: int, reason: str) -> None:
    """Take back the try ``begin_attempt(s)`` counted for a row this worker cannot read (an envelope of a
    newer release): it is no failure of the message, and counting it would quarantine the row during a
    rolling upgrade. The row stays pending with ``reason``; touching it keeps the sweeper off it a while."""

    def tx() -> None:
        row = inbound_state.lock(inbound_id, with_envelope=False)
        if row is None or not row.pending:
            return
        inbound_state.uncount_attempt(row.id, max(0, row.attempts - 1), reason[:2000], utcnow())

    run_tx(tx, durable=False)  # as begin_attempt: a lost count only costs a try


# ---- the pipeline ------------------------------------------------------------
def prepare(inbound_id: int, settings: Settings) -> Prepared | None:
    """Read and decode the envelope, and classify a message that carries no
    thread evidence, without holding a write transaction: SQLite has one
    writer for the whole desk, so every millisecond of CPU moved out of the
    transaction is a millisecond the other workers and the ingest daemon can
    commit in. The envelope of an inbound row never changes once written."""
    got = inbound_state.read_pending_envelope(inbound_id)
    if got is None:
        return None
    env = Envelope.from_dict(got[0])
    env.raw_blob_key = got[1] or env.raw_blob_key
    return prepare_envelope(env, settings, read_db=True)


def prepare_envelope(env: Envelope, settings: Settings, *, read_db: bool = False) -> Prepared:
    """``prepare`` for an envelope in hand: a history import computes it in its
    parser processes, before the row exists.

    ``read_db``: may read the database (``prepare`` does; an import's parser
    process has no database to read, and its batch's earlier rows are not
    committed yet). Only then are the sentence vectors for the near-duplicate
    comparison by meaning computed here: whether that comparison will run
    depends on the customer's open tickets, and embedding every new message
    (7-14 ms) to spare the rare one that needs it would cost far more than
    the reads; without them the transaction embeds, as it did before."""
    channel = inbound_channels.of(env.channel)
    if channel.agent_reply(env):  # an agent's reply (Slack): its files, fetched outside the lock
        from helpline.workers.slack.slack_attach import fetch_agent_files, wants_files

        return Prepared(env, agent_files=fetch_agent_files(env, settings) if wants_files(env) else None)
    fresh = not (
        threads.thread_keys(env)
        or env.thread.ticket_ref
        or env.thread.reply_token
        or env.auto_reply.bounced_message_ids
    )
    fp = (
        duplicates.fingerprint_of(env, settings)
        if not (env.thread.in_reply_to or env.thread.references or env.thread.ticket_ref or env.thread.reply_token)
        else None
    )  # a text's conversation key may be new: only reply headers rule a new ticket out
    meaning = None
    if read_db and fp is not None and duplicates.meaning_on(settings, duplicates.meaning_text(env)):
        customer = channel.find_customer(env)  # a read; the thread stage finds them again, inside
        meaning = duplicates.meaning_ahead(env, fp, customer.id, settings, utcnow()) if customer is not None else None
    return Prepared(
        env,
        categorise(threads.clean_subject(env.subject) or "(no subject)", env.text, settings) if fresh else None,
        None if env.auto_reply.bounced_message_ids else triage.signals(env, settings),
        fp,
        meaning,
    )


def process(inbound_id: int, settings: Settings) -> Outcome:
    pre = prepare(inbound_id, settings)
    for attempt in range(5):
        try:
            # Re-derivable from the durable inbound row, so not fsync'd (see store.db.write_tx).
            return run_tx(lambda: _process_buffered(inbound_id, settings, pre), durable=False)
        except KeyRace:
            # Another worker claimed a thread key of this conversation first;
            # run again and join the ticket it made.
            if attempt == 4:
                raise
            log.info("event=thread_race inbound=%d attempt=%d", inbound_id, attempt + 1)
    raise AssertionError("unreachable")


def process_batch(inbound_ids: list[int], settings: Settings) -> list[Outcome | Exception]:
    """The pipeline for rows that travelled the queue together, in one write
    transaction: an Outcome per row, or the exception that row raised.

    Why one transaction: every commit takes the desk-wide writer lock (SQLite)
    and writes each page it touched to the log; the rows of a batch touch the
    same index and counter pages, so one commit for eight messages writes
    those once instead of eight times and frees the lock for intake sooner.
    Each row runs in a savepoint of its own: a row that raises (a bug, another
    worker's thread race) is rolled back alone, and the caller runs it again on
    its own path (``process``) with its retries and failure record. Only a lost
    database connection aborts the batch, whose rows are then all still pending.
    When intake waits for the writer lock (SQLite), the transaction commits
    after the current row and the rest follow in the next one."""
    pres: dict[int, Prepared | None | Exception] = {}
    for inbound_id in inbound_ids:
        try:
            pres[inbound_id] = prepare(inbound_id, settings)
        except UNAVAILABLE:
            raise
        except Exception as exc:  # the row's own fault: it fails again, with its record, when run alone
            pres[inbound_id] = exc

    def tx(todo: list[int]) -> list[Outcome | Exception]:
        out: list[Outcome | Exception] = []
        for inbound_id in todo:
            if out and priority_writer_waiting():  # intake waits for the lock: commit what is done, go on after
                break
            pre = pres[inbound_id]
            if isinstance(pre, Exception):
                out.append(pre)
                continue
            try:
                with database().atomic():  # a savepoint
                    out.append(_process_buffered(inbound_id, settings, pre))
            except UNAVAILABLE:
                raise
            except Exception as exc:
                out.append(exc)
        return out

    results: list[Outcome | Exception] = []
    while len(results) < len(inbound_ids):
        todo = inbound_ids[len(results) :]
        # Re-derivable from the durable inbound rows, so not fsync'd (see store.db.write_tx).
        results += run_tx(functools.partial(tx, todo), durable=False)
    return results


def _process_buffered(
    inbound_id: int, settings: Settings, pre: Prepared | None = None, row: inbound_state.InboundRow | None = None
) -> Outcome:
    with buffered_events():
        return _process(inbound_id, settings, pre, row)


def _process(
    inbound_id: int, settings: Settings, pre: Prepared | None = None, known: inbound_state.InboundRow | None = None
) -> Outcome:
    """``known``: the row as its writer just inserted it in this transaction (a history import's batch),
    so it need not be read and locked again."""
    now = utcnow()
    row = known if known is not None else inbound_state.lock(inbound_id, with_envelope=pre is None)
    if row is None:
        return Outcome("missing")
    if not row.pending:
        return Outcome("noop", row.ticket_id)
    if pre is not None:
        env = pre.env
    else:
        env = Envelope.from_dict(row.envelope)
        env.raw_blob_key = row.raw_blob_key or env.raw_blob_key
    ctx = Context(
        row,
        env,
        settings,
        now,
        inbound_channels.of(env.channel),
        pre,
        domains={a.rpartition("@")[2].lower() for a in settings.support_addresses},
        quiet=import_mode.active(),
    )  # a history import: nothing is sent (the outbox refuses it too)
    return run_stages(ctx)


def run_stages(ctx: Context, order: tuple[tuple[str, stages.Stage], ...] | None = None) -> Outcome:
    """Run the stages on one message, in order, inside the caller's transaction; its outcome.

    A stage's decision with an outcome ends the run; otherwise, after the last stage, the row is
    ``processed`` with the threading decision's reason. The deciding stages travel on the outcome
    (``Outcome.stages``) into the worker's one log line per message."""
    debug = _stage_log.isEnabledFor(logging.DEBUG)
    decided: list[str] = []
    outcome: Outcome | None = None
    for name, run in stages.STAGES if order is None else order:
        decision = run(ctx)
        if debug:
            _stage_log.debug(
                "event=stage inbound=%d stage=%s decided=%s",
                ctx.row.id,
                name,
                decision.what if decision is not None else "-",
            )
        if decision is None:
            continue
        decided.append(f"{name}:{decision.what}")
        if decision.outcome is not None:
            outcome = decision.outcome
            break
    if outcome is None:
        outcome = ctx.outcome
        assert ctx.ticket is not None  # the ticket stage ran
        reason = ctx.decision.reason
        inbound_state.finish(ctx.row.id, inbound_state.PROCESSED, reason, ctx.ticket.id, ctx.now)
        outcome.ticket_id = ctx.ticket.id
        outcome.reason = reason
    outcome.stages = ",".join(decided)
    return outcome
