"""What one batch write transaction already knows, so the pipeline's lookups skip the database.

A history import runs the live pipeline on a few hundred messages in one
transaction. Run one at a time, each message would ask the database again
for what the batch could read once (the thread keys, senders and body
hashes of all its messages, in one statement each) or what an earlier
message of the same batch just wrote (a new ticket's keys, a new customer,
a message its copy is compared with). While a ``BatchCache`` is active in
this thread, the store's hot lookups (``thread_state``, ``customer_refs``,
``message_state``, ``blocklist``, ``routing_state``) answer from it and
their writes keep it in step; without one (the live workers) they behave
exactly as before.

Every change goes through the journal, so a message whose savepoint is rolled
back (``mark``/``undo``) takes its entries with it. A cached "free" thread key
or customer that a concurrent writer made shows up as a unique key's
IntegrityError; the caller then calls ``forget_keys`` and runs the message
again, which reads them from the database.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass
class DupRow:
    """An inbound message that a later copy (same sender and body hash) may be a duplicate of."""

    created_at: dt.datetime
    id: int
    ticket_id: int
    external_id: str


@dataclass
class BatchCache:
    # thread key -> ticket id; None: known to be free. Absent: not read yet (ask the database).
    keys: dict[str, int | None] = field(default_factory=dict)
    # (identity kind, address) -> (customer id, name); None: no such customer. Absent: not read yet.
    customers: dict[tuple[str, str], tuple[int, str] | None] = field(default_factory=dict)
    # customer id -> its identities' addresses; ticket id -> its participants' addresses
    addresses: dict[int, set[str]] = field(default_factory=dict)
    participants: dict[int, set[tuple[str, str]]] = field(default_factory=dict)  # ticket -> (kind, address)
    # (sender, body hash) -> the inbound messages with them; only pairs read for this batch are present
    dups: dict[tuple[str, str], list[DupRow]] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)  # advisory-locked conversation keys (PostgreSQL)
    memo: dict[str, Any] = field(default_factory=dict)  # tables nobody changes mid-batch (blocklist, teams)
    _journal: list[Callable[[], None]] = field(default_factory=list)

    # ---- the journal ---------------------------------------------------------
    def mark(self) -> int:
        return len(self._journal)

    def undo(self, to: int) -> None:
        """Take back every change made since ``mark()`` returned ``to`` (a rolled-back savepoint)."""
        while len(self._journal) > to:
            self._journal.pop()()

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        self._journal.append(lambda: table.pop(key, None) if old is _MISSING else table.__setitem__(key, old))
        table[key] = value

    def add(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Add ``value`` to the set under ``key``, when that set was read."""
        got = table.get(key)
        if got is None or value in got:
            return
        got.add(value)
        self._journal.append(lambda: got.discard(value))

    def append_dup(self, pair: tuple[str, str], row: DupRow) -> None:
        got = self.dups.get(pair)
        if got is None:
            return
        got.append(row)
        self._journal.append(lambda: got.remove(row))

    def lock_taken(self, key: str) -> None:
        self.locked.add(key)
        self._journal.append(lambda: self.locked.discard(key))

    def forget_keys(self) -> None:
        """Read thread keys and customers from the database again: a concurrent writer (a live worker)
        claimed a key or made a customer this cache still thought free."""
        self.keys.clear()
        self.customers.clear()
        self.addresses.clear()

    def memoised(self, name: str, read: Callable[[], Any]) -> Any:
        if name not in self.memo:
            self.memo[name] = read()
        return self.memo[name]


_flushers: list[Callable[[], None]] = []


def before_read(flusher: Callable[[], None]) -> None:
    """Register a write-behind buffer (the batch's audit events) that ``flush_writes`` writes out."""
    _flushers.append(flusher)


def flush_writes() -> None:
    """Before reading a table a batch writes behind (the event table): write out what is buffered."""
    for f in _flushers:
        f()


_current: contextvars.ContextVar[BatchCache | None] = contextvars.ContextVar("helpline_batch_cache", default=None)


def current() -> BatchCache | None:
    return _current.get()


@contextlib.contextmanager
def active(cache: BatchCache) -> Iterator[BatchCache]:
    token = _current.set(cache)
    try:
        yield cache
    finally:
        _current.reset(token)


def memoised(name: str, read: Callable[[], Any]) -> Any:
    """``read()``, once per batch while a batch is active."""
    cache = _current.get()
    return read() if cache is None else cache.memoised(name, read)
