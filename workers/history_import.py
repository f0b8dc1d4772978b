"""The batch writer of a history import: the live pipeline over old mail, quietly.

One write transaction per batch inserts each message's inbound row and runs
the pipeline on it at once (``pipeline._process_buffered``, the stages live
mail takes: dedupe, threading, triage, persistence and the search index kept
by the store), under ``import_mode``: the outbox refuses every send and no SLA
clock starts, and the clock reads the message's own date. Rows are inserted
and processed in the same transaction, so the sweeper never finds an imported
row pending and hands it to a live worker (which would acknowledge it).
Batches stay small so live intake waits for the SQLite writer only briefly.
"""

from __future__ import annotations

import functools

import datetime as dt
import logging
from dataclasses import dataclass, field

import peewee as pw

from helpline.router import lifecycle
from helpline.store import batch_cache, import_mode
from helpline.store.inbound import import_rows, inbound_state
from helpline.store.config import Settings
from helpline.store.db import UNAVAILABLE, database, run_tx
from helpline.store.envelope import Envelope

from helpline.store.inbound import audit_events
from helpline.workers import pipeline
from helpline.workers.inbound import threads
from helpline.workers.inbound.dedupe import body_hash
from helpline.workers.tickets import ticket_ops

log = logging.getLogger("helpline.workers.import")
_SETTLED = {lifecycle.RESOLVED, lifecycle.CLOSED, lifecycle.MERGED}


@dataclass
class Item:
    """One parsed message, ready for the writer."""

    env: Envelope
    pre: pipeline.Prepared
    raw_key: str
    date: dt.datetime  # naive UTC: the message's Date, or when it was parsed if it has none
    where: str  # file and position, for the report


@dataclass
class BatchResult:
    actions: dict[str, int] = field(default_factory=dict)  # created, appended, duplicate, already_imported, ...
    failed: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)


def write_batch(items: list[Item], source: str, settings: Settings) -> BatchResult:
    """Store and process ``items`` in one transaction (``settle`` resolves the conversations at the end)."""
    with import_mode.importing():
        return run_tx(lambda: _batch(items, source, settings))


def _batch(items: list[Item], source: str, settings: Settings) -> BatchResult:
    """The batch as set operations where the pipeline allows them: every inbound row in one INSERT, what
    the messages will look up (thread keys, senders, body hashes; PostgreSQL's conversation locks) in one
    statement each, the audit events in one INSERT at the end; then the stages message by message in
    file order, answering from the batch's cache (``store.batch_cache``), so a reply finds the ticket its
    root made earlier in the same batch as it would in an earlier one."""
    res = BatchResult()

    def count(action: str) -> None:
        res.actions[action] = res.actions.get(action, 0) + 1

    cache = batch_cache.BatchCache()
    with batch_cache.active(cache), audit_events.buffered_events():
        stored = import_rows.store_inbound_many([(it.env, it.raw_key, it.date) for it in items], source)
        todo = [(it, inbound_id) for it, (inbound_id, created) in zip(items, stored, strict=True) if created]
        res.actions["already_imported"] = len(items) - len(todo)
        if not res.actions["already_imported"]:
            del res.actions["already_imported"]
        _prefetch(cache, [it for it, _ in todo])
        for it, inbound_id in todo:
            with import_mode.clock(it.date):
                row = inbound_state.InboundRow(inbound_id, inbound_state.PENDING, "", 1, None, {}, it.raw_key)
                try:
                    outcome = _process_row(inbound_id, settings, it.pre, row, cache)
                except UNAVAILABLE:
                    raise
                except Exception as exc:
                    reason = f"import: {type(exc).__name__}: {exc}"
                    import_rows.fail_inbound(inbound_id, reason)
                    res.failed.append((it.where, reason))
                    count("failed")
                    continue
                count(outcome.action)
                if outcome.ticket_id is not None and outcome.action == "created":  # reports leave these out
                    audit_events.event(
                        outcome.ticket_id, "ticket_imported", {"source": source[:500]}, actor="import", now=it.date
                    )
    return res


def _prefetch(cache: batch_cache.BatchCache, items: list[Item]) -> None:
    keys: list[str] = []
    locks: list[str] = []
    senders: list[tuple[str, str]] = []
    hashes: list[tuple[str, str]] = []
    for it in items:
        env = it.env
        mine = threads.own_keys(env)
        keys += mine
        locks += mine
        senders.append((env.sender.kind, env.sender.address))
        bhash = body_hash(env)
        if bhash and env.sender.address:
            hashes.append((env.sender.address, bhash))
            locks.append(f"dup:{env.sender.address}:{bhash}")  # as the thread stage locks it
    import_rows.prefetch(cache, keys, locks, senders, hashes)


def _process_row(
    inbound_id: int,
    settings: Settings,
    pre: pipeline.Prepared,
    row: inbound_state.InboundRow,
    cache: batch_cache.BatchCache,
) -> pipeline.Outcome:
    """The pipeline on one row in a savepoint of its own (a row that raises is rolled back alone, with what
    it put in the batch's cache and event buffer). A live worker may claim a thread key of the same
    conversation first (IntegrityError): run the row again, reading the keys afresh, and join the ticket
    it made, as ``pipeline.process`` does."""
    for attempt in range(4):
        mark = cache.mark()
        try:
            with database().atomic():
                return pipeline._process_buffered(inbound_id, settings, pre, row=row)
        except pw.IntegrityError:
            cache.undo(mark)
            cache.forget_keys()
            if attempt == 3:
                raise
            log.info("event=import_thread_race inbound=%d attempt=%d", inbound_id, attempt + 1)
        except BaseException:
            cache.undo(mark)
            raise
    raise AssertionError("unreachable")


def settle(source: str, settings: Settings, open_since: dt.datetime | None, *, batch: int = 500) -> int:
    """Imported conversations end resolved, unless a message is newer than ``open_since``.

    Run once the source is read, not per batch: a conversation resolved halfway
    would turn its next imported reply into a reopening or a follow-up ticket.
    It works from the inbound rows of the source, so a resumed import settles
    what the interrupted run wrote too; short transactions, as the batches."""
    ids = import_rows.tickets_of_source(source)
    done = 0
    with import_mode.importing():
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            done += run_tx(functools.partial(_settle_buffered, chunk, settings, open_since))
    return done


def _settle_buffered(ticket_ids: list[int], settings: Settings, open_since: dt.datetime | None) -> int:
    """``_settle`` with the chunk's audit events written in one statement."""
    with audit_events.buffered_events():
        return _settle(ticket_ids, settings, open_since)


def _settle(ticket_ids: list[int], settings: Settings, open_since: dt.datetime | None) -> int:
    done = 0
    for tid, status, last in import_rows.ticket_activity(ticket_ids):
        if status in _SETTLED or (open_since is not None and last is not None and last > open_since):
            continue
        when = last or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with import_mode.clock(when):
            ticket_ops.change_status(
                ticket_ops.load(tid),
                lifecycle.RESOLVED,
                now=when,
                settings=settings,
                actor="import",
                reason="imported history",
            )
        done += 1
    return done
