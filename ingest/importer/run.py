"""Orchestration of ``helpline import``: read, parse in a pool, write in batches, checkpoint.

Two cores, two jobs: the pool's processes parse, normalise and classify
(``parse.py``) while this process writes batches in short write transactions
(``workers.history_import``), so live intake and workers get the SQLite
writer between batches. After each committed batch the checkpoint of the
source file records the last message written; a restarted import starts
there, and the inbound table's unique key turns anything read twice into
``already_imported``, so an import killed at any point and run again
duplicates nothing.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from helpline.ingest.importer import parse, sources

log = logging.getLogger("helpline.import")
KINDS = ("mbox", "maildir", "eml")


@dataclass
class Report:
    source: str
    kind: str
    dry_run: bool = False
    read: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    resolved: int = 0
    seconds: float = 0.0
    resumed_from: str = ""
    exact: bool = True  # False: a dry run on PostgreSQL, whose batches cannot see each other (see ``_run``)
    writer_waited: float = 0.0  # seconds this process waited for the pool's next chunk, after the first
    first_chunk: float = 0.0  # seconds until the pool's first chunk: its start-up

    def add(self, actions: dict[str, int]) -> None:
        for k, v in actions.items():
            self.actions[k] = self.actions.get(k, 0) + v

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "exact": self.exact,
            "messages": self.read,
            "actions": dict(sorted(self.actions.items())),
            "resolved": self.resolved,
            "unreadable": len(self.unreadable),
            "unreadable_messages": [{"where": w, "why": e} for w, e in self.unreadable],
            "seconds": round(self.seconds, 2),
            "rate_per_s": round(self.rate, 1),
            "resumed_from": self.resumed_from,
            "writer_waited_s": round(self.writer_waited, 2),
            "first_chunk_s": round(self.first_chunk, 2),
        }


class _DryRun(Exception):
    """Raised inside the batch transaction to roll back what a dry run did."""

    def __init__(self, result: Any) -> None:
        super().__init__("dry run")
        self.result = result


def checkpoint_path(settings: Any, kind: str, source: str) -> str:
    key = hashlib.sha256(f"{kind}:{os.path.realpath(source)}".encode()).hexdigest()[:32]
    return os.path.join(settings.data_dir, "imports", f"{key}.json")


def _load_checkpoint(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return str(json.load(fh).get("pos", ""))
    except (OSError, ValueError):
        return ""


def _save_checkpoint(path: str, source: str, pos: str, done: bool) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "source": os.path.realpath(source),
                "pos": pos,
                "done": done,
                "at": dt.datetime.now(dt.timezone.utc).isoformat(),
            },
            fh,
        )
    # Not fsync'd (it cost 30 ms a batch): a checkpoint lost in a crash only makes the rerun read
    # again from an earlier one, and the inbound rows' unique key turns what it reads twice into
    # already_imported. The rename keeps it whole.
    os.replace(tmp, path)


def _starts_message(path: str, offset: int) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(5) == b"From "
    except (OSError, ValueError):
        return False


def _reader(kind: str, source: str, pos: str, max_bytes: int) -> Iterator[sources.Raw]:
    if kind == "mbox":
        return sources.mbox(source, start=int(pos or 0), max_bytes=max_bytes)
    if kind == "maildir":
        return sources.maildir(source, after=pos, max_bytes=max_bytes)
    if kind == "eml":
        return sources.eml(source, after=pos, max_bytes=max_bytes)
    raise ValueError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")


def _chunks(raws: Iterator[sources.Raw], size: int) -> Iterator[list[tuple[str, str, bytes, str]]]:
    chunk: list[tuple[str, str, bytes, str]] = []
    for r in raws:
        chunk.append((r.where, r.pos, r.data, r.error))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def total_hint(kind: str, source: str) -> int:
    """How much there is to do, for the progress bar's ETA: an mbox's size in bytes, a folder's files."""
    if kind == "mbox":
        return os.path.getsize(source)
    return sum(1 for _ in (sources.maildir if kind == "maildir" else sources.eml)(source, max_bytes=1 << 62))


def run_import(
    kind: str,
    source: str,
    settings: Any,
    *,
    open_since: dt.datetime | None = None,
    dry_run: bool = False,
    batch_size: int = 200,
    jobs: int | None = None,
    restart: bool = False,
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    writers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Import ``source``; ``progress(messages, done)`` after each parsed chunk, ``done`` in the
    units of ``total_hint`` (bytes of an mbox, files of a folder). ``writers``: batch writers at once
    (default: 2 on PostgreSQL, 1 on SQLite, whose single write lock they would only queue on)."""
    from helpline.store.db import is_sqlite, scratch_copy

    if dry_run and is_sqlite():  # exact: the real import, on a private copy of the database
        with scratch_copy(settings.db_busy_timeout_ms):
            return _run(
                kind, source, settings, open_since, dry_run, False, batch_size, jobs, True, max_bytes, 1, progress
            )
    return _run(
        kind, source, settings, open_since, dry_run, dry_run, batch_size, jobs, restart, max_bytes, writers, progress
    )


def _run(
    kind: str,
    source: str,
    settings: Any,
    open_since: dt.datetime | None,
    dry_run: bool,
    rollback: bool,
    batch_size: int,
    jobs: int | None,
    restart: bool,
    max_bytes: int,
    writers: int | None,
    progress: Callable[[int, int], None] | None,
) -> Report:
    """``rollback``: a dry run that rolls each batch back (PostgreSQL), whose counts are approximate."""
    from helpline.store.db import is_sqlite
    from helpline.workers import history_import

    writers = max(1, writers if writers is not None else (1 if is_sqlite() else 2))

    report = Report(source, kind, dry_run)
    report.exact = not rollback
    ckpt = checkpoint_path(settings, kind, source)
    pos = "" if restart or dry_run else _load_checkpoint(ckpt)
    if kind == "mbox" and pos and not _starts_message(source, int(pos)):
        pos = ""  # the file changed under the checkpoint: read it all again; the unique key skips what is in
    report.resumed_from = pos
    raws = _reader(kind, source, pos, max_bytes)
    label = os.path.realpath(source)
    jobs = jobs or max(1, min(os.cpu_count() or 1, 8))
    started = time.perf_counter()
    # forkserver, not fork: forking a process that runs threads (a desk's embedded Redis client, a test
    # runner's servers) can copy a lock held by another thread into the child, which then waits forever.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["helpline.ingest.importer.parse", "helpline.ingest.importer.warm"])
    with (
        cf.ProcessPoolExecutor(jobs, mp_context=context, initializer=parse.init, initargs=(settings, dry_run)) as pool,
        cf.ThreadPoolExecutor(writers) as wpool,
    ):
        # A few chunks in flight per process keeps both cores busy while this one writes.
        pending: list[cf.Future] = []
        chunks = _chunks(raws, max(1, batch_size // 2))
        last_pos = pos
        items: list = []

        def flush() -> None:
            nonlocal items
            if not items:
                return
            if writers > 1 and not rollback:
                for res in _write_split(items, label, settings, history_import, writers, wpool):
                    report.add(res.actions)
                    report.unreadable += res.failed
            else:
                res = _write(items, label, settings, rollback, history_import)
                report.add(res.actions)
                report.unreadable += res.failed
            items = []

        def drain(fut: cf.Future) -> None:
            nonlocal last_pos
            waited = time.perf_counter()
            parsed = fut.result()
            now = time.perf_counter()
            if report.first_chunk:
                report.writer_waited += now - waited
            else:  # the pool's start-up: counted apart from the steady state's waits
                report.first_chunk = now - started
            for p in parsed:
                report.read += 1
                last_pos = p.pos
                if p.error:
                    report.unreadable.append((p.where, p.error))
                    report.actions["unreadable"] = report.actions.get("unreadable", 0) + 1
                    continue
                items.append(p.item)
            if len(items) >= batch_size:
                flush()
                if not dry_run:
                    _save_checkpoint(ckpt, source, last_pos, False)
            if progress is not None:
                progress(report.read, int(last_pos or 0) if kind == "mbox" else report.read)

        for chunk in chunks:
            pending.append(pool.submit(parse.parse_chunk, chunk))
            if len(pending) >= 2 * jobs + 1:
                drain(pending.pop(0))
        while pending:
            drain(pending.pop(0))
        flush()
    if not rollback:
        report.resolved = history_import.settle(label, settings, open_since)
    if not dry_run:
        _save_checkpoint(ckpt, source, last_pos, True)
    report.seconds = time.perf_counter() - started
    log.info(
        "event=import_done kind=%s messages=%d unreadable=%d seconds=%.1f",
        kind,
        report.read,
        len(report.unreadable),
        report.seconds,
    )
    return report


def conversation_key(item: Any) -> str:
    """What keeps a conversation on one writer: its root's Message-ID (the first of References, else
    In-Reply-To, else the message's own), so a reply and the message it answers are written in order."""
    t = item.env.thread
    return (t.references[0] if t.references else "") or t.in_reply_to or t.message_id or item.where


def _write_split(
    items: list, label: str, settings: Any, history_import: Any, writers: int, wpool: cf.ThreadPoolExecutor
) -> list[Any]:
    """One batch through ``writers`` concurrent transactions (PostgreSQL): the items split by conversation,
    each part in file order. Every part is committed before the caller moves the checkpoint, as with one
    writer. A part that failed (two transactions waiting on each other's rows: PostgreSQL aborts one)
    was rolled back whole and is written again alone once the others are in."""
    from helpline.store.db import database

    parts: list[list] = [[] for _ in range(writers)]
    for it in items:
        parts[zlib.crc32(conversation_key(it).encode("utf-8", "replace")) % writers].append(it)

    def job(part: list) -> Any:
        try:
            return history_import.write_batch(part, label, settings)
        finally:
            database().close()  # this thread's connection: the pool's threads outlive the import

    running = [(part, wpool.submit(job, part)) for part in parts if part]
    results, again = [], []
    for part, fut in running:
        try:
            results.append(fut.result())
        except Exception as exc:  # noqa: BLE001 - retried alone below; a second failure is raised
            log.info("event=import_writer_retry items=%d error=%s", len(part), type(exc).__name__)
            again.append(part)
    for part in again:
        results.append(history_import.write_batch(part, label, settings))
    return results


def _write(items: list, label: str, settings: Any, dry_run: bool, history_import: Any) -> Any:
    if not dry_run:
        return history_import.write_batch(items, label, settings)
    from helpline.store import import_mode
    from helpline.store.db import run_tx

    def tx() -> None:
        raise _DryRun(history_import._batch(items, label, settings))

    try:
        with import_mode.importing():
            run_tx(tx)
    except _DryRun as done:  # rolled back: the database is as it was
        return done.result
    raise AssertionError("unreachable")
