"""Database connection from a URL, and write transactions that hold on both engines.

SQLite runs in WAL mode with ``synchronous=FULL`` (a commit survives a power cut)
and every transaction starts with ``BEGIN IMMEDIATE`` so that several processes
writing at once queue on the busy timeout instead of failing on lock upgrade.
PostgreSQL uses its default (durable) commit.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import peewee

from helpline.store.config import ConfigError, mask_url
from helpline.store.private_paths import private_dir, private_file

T = TypeVar("T")
log = logging.getLogger("helpline.store")

proxy = peewee.DatabaseProxy()

# Errors that mean "the database is not reachable right now", as opposed to a bug.
UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError)
# A unique key already taken, often by a concurrent session a moment ago: callers outside store/ catch it by
# this name rather than importing peewee.
IntegrityError = peewee.IntegrityError


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or stayed locked past the busy timeout."""


def make_database(url: str, busy_timeout_ms: int = 5000) -> peewee.Database:
    """Build (but do not open) a peewee database for ``sqlite:///`` or ``postgresql://``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path
            path = parts.netloc + path
        if path.startswith("//"):
            path = path[1:]
        if path and path != ":memory:" and not path.startswith("file:"):
            private_dir(os.path.dirname(os.path.abspath(path)))
            private_file(path)  # 0600, and so its -wal and -shm files
        return peewee.SqliteDatabase(
            path or ":memory:",
            lock_type="IMMEDIATE",
            timeout=busy_timeout_ms / 1000.0,
            pragmas={
                "journal_mode": "wal",
                "synchronous": 2,  # FULL
                "busy_timeout": busy_timeout_ms,
                "foreign_keys": 1,
                "cache_size": -16000,
                # No checkpoint inside a committing writer (it would hold every
                # other writer behind it); ``Checkpointer`` runs them aside.
                "wal_autocheckpoint": 0,
            },
        )
    if scheme in ("postgres", "postgresql"):
        query: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        query.setdefault("connect_timeout", str(max(1, busy_timeout_ms // 1000)))
        return peewee.PostgresqlDatabase(
            unquote(parts.path.lstrip("/")) or "postgres",
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or None,
            port=parts.port or None,
            **query,
        )
    raise ConfigError(f"HELPLINE_DATABASE_URL {mask_url(url)!r}: use sqlite:///PATH or postgresql://…")


def init(url: str, busy_timeout_ms: int = 5000) -> peewee.Database:
    """Point the models at ``url`` (closing any previous database)."""
    old = proxy.obj
    if old is not None and not old.is_closed():
        old.close()
    db = make_database(url, busy_timeout_ms)
    proxy.initialize(db)
    return db


@contextmanager
def scratch_copy(busy_timeout_ms: int = 5000) -> Iterator[str]:
    """SQLite: point the models at a private copy of the database for the block, then back; the copy is
    deleted. A dry run of an import runs there exactly as the real one would (every batch committed, so a
    reply finds the ticket an earlier batch made) without touching the desk's database or holding its
    writer lock for longer than the copy takes. Yields the copy's path."""
    import shutil
    import sqlite3
    import tempfile

    db = database()
    if not isinstance(db, peewee.SqliteDatabase):
        raise TypeError("scratch_copy is for SQLite; on PostgreSQL a dry run rolls back each batch instead")
    source = db.database
    folder = tempfile.mkdtemp(prefix="helpline-dry-run-", dir=os.path.dirname(os.path.abspath(source)) or None)
    path = os.path.join(folder, "dry-run.sqlite3")
    src = sqlite3.connect(source, timeout=busy_timeout_ms / 1000)
    try:
        dst = sqlite3.connect(path)
        with dst:
            src.backup(dst)  # a consistent snapshot, taken in steps between the desk's commits
        dst.close()
    finally:
        src.close()
    copy = init(f"sqlite:///{path}", busy_timeout_ms)  # closes this thread's connection to the desk's
    try:
        yield path
    finally:
        copy.close()
        proxy.initialize(db)  # the desk's database again (it reconnects when next used)
        shutil.rmtree(folder, ignore_errors=True)


class Checkpointer:
    """Copies SQLite's WAL into the database file from a thread of its own.

    A PASSIVE checkpoint never waits for readers or writers, so commits (and
    the SMTP answers behind them) no longer pay for it. One process per host
    runs it (the ingest daemon and the scheduler both start one; two are
    harmless). On PostgreSQL it does nothing.
    """

    def __init__(self, url: str, interval_s: float = 1.0) -> None:
        self.url = url
        self.interval_s = interval_s
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> "Checkpointer":
        if urlsplit(self.url).scheme.lower() == "sqlite":
            self.thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        import sqlite3

        path = make_database(self.url).database
        conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        try:
            while not self.stop_event.wait(self.interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:
                    log.debug("event=checkpoint_failed error=%s", type(exc).__name__)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(5)


def database() -> peewee.Database:
    if proxy.obj is None:
        raise RuntimeError("store.db.init() was not called")
    db: peewee.Database = proxy.obj
    return db


def is_sqlite() -> bool:
    return isinstance(database(), peewee.SqliteDatabase)


def ping() -> None:
    """One round trip to the database (a readiness probe); raises when it cannot be reached."""
    database().execute_sql("SELECT 1")


class _WriterLock(threading.local):
    """A kernel-queued lock in front of SQLite's write lock.

    SQLite makes a blocked writer poll with sleeps of 1 to 100 ms, so under
    load from several processes most of the time goes to sleeping while the
    lock is free. An exclusive ``flock`` on a file beside the database hands
    the lock over the moment it is released. Each thread opens its own file
    description so that threads of one process exclude each other too.
    """

    fds: dict[str, int]
    depth: int = 0

    def __init__(self) -> None:
        self.fds = {}


_writer = _WriterLock()


def _lock_path(db: peewee.Database) -> str | None:
    path = db.database
    return None if not path or path == ":memory:" else path + ".writelock"


def _fd(path: str) -> int:
    fd = _writer.fds.get(path)
    if fd is None:
        fd = _writer.fds[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd


@contextmanager
def _priority_turn(db: peewee.Database) -> Iterator[None]:
    """Hold the turnstile beside the writer lock while waiting for and holding it: a durable writer
    (accepting a customer's message) announces that it waits, see ``priority_writer_waiting``."""
    path = _lock_path(db)
    if path is None or _writer.depth:
        yield
        return
    fd = _fd(path + ".turn")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def priority_writer_waiting() -> bool:
    """True when a durable writer waits for (or holds) the SQLite writer lock.

    Why: the pipeline writes a batch of messages in one transaction, and an
    SMTP client waits for its 250 until intake's commit gets the lock. A long
    batch would make every sender wait for it, worse when the worker (niced)
    is short of CPU while holding the lock. The pipeline asks this between
    messages and commits early, so intake waits for one message at most. A
    failed non-blocking shared lock on the turnstile is the whole check."""
    db = database()
    path = _lock_path(db) if isinstance(db, peewee.SqliteDatabase) else None
    if path is None:
        return False
    fd = _fd(path + ".turn")
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


@contextmanager
def _sqlite_writer(db: peewee.Database) -> Iterator[None]:
    path = _lock_path(db)
    if path is None or _writer.depth:
        _writer.depth += 1
        try:
            yield
        finally:
            _writer.depth -= 1
        return
    fd = _fd(path)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _writer.depth = 1
    try:
        yield
    finally:
        _writer.depth = 0
        fcntl.flock(fd, fcntl.LOCK_UN)


class _Sync(threading.local):
    level: dict[int, int]

    def __init__(self) -> None:
        self.level = {}


_sync = _Sync()


def _sqlite_sync(db: peewee.SqliteDatabase, durable: bool) -> None:
    """Switch this connection between FULL (fsync at commit) and NORMAL."""
    want = 2 if durable else 1
    conn = db.connection()
    if _sync.level.get(id(conn)) != want:
        conn.execute(f"PRAGMA synchronous = {want}")
        _sync.level[id(conn)] = want


@contextmanager
def write_tx(durable: bool = True) -> Iterator[None]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite, behind the writer lock).

    ``durable=False`` is for work that can be derived again from rows that
    were committed durably: the pipeline's result is re-derivable from the
    inbound row (a power cut may undo it, the sweeper then runs it again), an
    email marked sent may be sent again with the same Message-ID. Such commits
    skip the fsync (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL
    ``synchronous_commit=off``): the database stays consistent and keeps a
    prefix of the commits; only the newest may be lost on a power cut, never
    on a process crash. Accepting a customer's message is always durable.
    """
    db = database()
    if isinstance(db, peewee.SqliteDatabase):
        with _priority_turn(db) if durable else nullcontext(), _sqlite_writer(db):
            _sqlite_sync(db, durable)
            with db.atomic():
                yield
    else:
        with db.atomic():
            if not durable:
                db.execute_sql("SET LOCAL synchronous_commit TO OFF")
            yield


def _reset_connection() -> None:
    db = database()
    try:
        if not db.is_closed():
            db.close()
    except Exception:  # a broken connection may refuse even to close
        cast(Any, db)._state.reset()  # peewee has no public way to drop a dead connection


def run_tx(fn: Callable[[], T], *, retries: int = 3, durable: bool = True) -> T:
    """Run ``fn`` in a write transaction, reconnecting after a dropped connection.

    A serialisation failure or a dropped PostgreSQL connection is retried; when
    the database stays unreachable, ``DatabaseUnavailable`` tells the caller to
    fall back (the spool) or answer "try again later".
    """
    delay = 0.05
    for attempt in range(retries + 1):
        try:
            with write_tx(durable):
                return fn()
        except UNAVAILABLE as exc:
            _reset_connection()
            if attempt == retries:
                raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}: {exc}".strip()) from exc
            log.debug("event=db_retry attempt=%d error=%s", attempt + 1, type(exc).__name__)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def count_statements() -> dict[str, int]:
    """Count, from now on in this process, the statements sent to either engine, in ``["statements"]``:
    every statement goes through ``Database.execute_sql``. For benches (``helpline bench --import
    --import-count-sql``); it patches the classes, so it is not for a serving process."""
    counter = {"statements": 0}
    classes: tuple[Any, ...] = (peewee.SqliteDatabase, peewee.PostgresqlDatabase)
    for cls in classes:
        real = cls.execute_sql

        def counted(self: Any, sql: str, params: Any = None, *a: Any, _real: Any = real, **kw: Any) -> Any:
            counter["statements"] += 1
            return _real(self, sql, params, *a, **kw)

        cls.execute_sql = counted
    return counter
