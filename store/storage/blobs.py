"""Content-addressed blob storage for raw messages and attachments.

Keys are ``sha256:<hex>`` so the same attachment sent a hundred times is stored
once and a key can be checked against its bytes. The filesystem backend suits
one host or a shared filesystem; the database backend lets ingest and worker
hosts share nothing but the database. Both make a blob durable (fsync'd or
committed) before ``put`` returns, because an SMTP 250 follows it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, Protocol, TypeVar

from helpline.store import models
from helpline.store.storage.files import fsync_dir, write_atomic
from helpline.store.private_paths import private_dir


T = TypeVar("T")


class BlobNotFound(KeyError):
    pass


def key_for(digest_hex: str) -> str:
    return "sha256:" + digest_hex


def _hex(key: str) -> str:
    algo, _, digest = key.partition(":")
    if algo != "sha256" or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise BlobNotFound(f"not a blob key: {key!r}")
    return digest


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def synced_together(self) -> contextlib.AbstractContextManager[None]: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _fsync_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(8, thread_name_prefix="blob-fsync")
    return _pool


class _Pending:
    """Blob files written in a ``synced_together`` block, still under their temporary names."""

    def __init__(self) -> None:
        self.files: dict[Path, str] = {}  # final path -> temporary path

    def commit(self) -> None:
        if not self.files:
            return
        pool = _fsync_pool()
        list(pool.map(_fsync_file, self.files.values()))  # the filesystem's journal merges concurrent fsyncs
        for final, tmp in self.files.items():
            os.replace(tmp, final)
        list(pool.map(fsync_dir, {final.parent for final in self.files}))
        self.files.clear()

    def discard(self) -> None:
        for tmp in self.files.values():
            Path(tmp).unlink(missing_ok=True)
        self.files.clear()


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        private_dir(self.root)
        self._dirs: set[Path] = set()
        self._local = threading.local()

    @contextlib.contextmanager
    def synced_together(self) -> Iterator[None]:
        """Blobs put inside the block (this thread) become durable together when it ends, before the
        caller commits the rows naming them.

        Why: intake stores a batch of messages, each with its raw blob and its
        attachments, and one fsync and one directory fsync per file, one after
        the other, were most of the ingest daemon's batch time. Here the files
        are written under temporary names, fsync'd concurrently (the journal
        merges them), and only then renamed to their content address and the
        directories fsync'd: a file at its final name is always complete, so
        ``put``'s "already there" check never trusts a half-written blob.
        Raises ``OSError`` when they cannot be made durable; nothing is renamed then."""
        pending = _Pending()
        self._local.pending = pending
        try:
            yield
        except BaseException:
            pending.discard()
            raise
        finally:
            self._local.pending = None
        try:
            pending.commit()
        except BaseException:
            pending.discard()
            raise

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            if path not in pending.files and not path.exists():
                pending.files[path] = self._write_unsynced(path, data)
        elif not path.exists():
            self._write(path, lambda fh: fh.write(data))
        return key_for(digest)

    def _write_unsynced(self, path: Path, data: bytes) -> str:
        def write() -> str:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            except BaseException:  # a full disk: no empty temporary file left behind per attempt
                Path(tmp).unlink(missing_ok=True)
                raise
            return tmp

        return self._in_dir(path, write)

    def _in_dir(self, path: Path, write: Callable[[], T]) -> T:
        """Run ``write`` with ``path``'s fan-out directory there. mkdir of an existing directory is a
        failed syscall per blob, so the directories this process has seen (at most 65,536) are
        remembered; one removed behind our back is made again."""
        known = path.parent in self._dirs
        if not known:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            done = write()
        except FileNotFoundError:
            if not known:
                raise
            path.parent.mkdir(parents=True, exist_ok=True)
            done = write()
        self._dirs.add(path.parent)
        return done

    def _write(self, path: Path, writer) -> None:  # type: ignore[no-untyped-def]
        self._in_dir(path, lambda: write_atomic(path, writer, prefix=".tmp-", parent_exists=True))

    def get(self, key: str) -> bytes:
        try:
            return self._path(_hex(key)).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(_hex(key)).exists()


class DatabaseBlobStore:
    def synced_together(self) -> contextlib.AbstractContextManager[None]:
        """Each put is its own committed row already."""
        return contextlib.nullcontext()

    def put(self, data: bytes) -> str:
        key = key_for(hashlib.sha256(data).hexdigest())
        models.Blob.insert(key=key, size=len(data), data=data).on_conflict_ignore().execute()
        return key

    def get(self, key: str) -> bytes:
        row = models.Blob.get_or_none(models.Blob.key == key)
        if row is None:
            raise BlobNotFound(key)
        return bytes(row.data)

    def exists(self, key: str) -> bool:
        return models.Blob.select().where(models.Blob.key == key).exists()


def open_store(backend: str, root: str) -> BlobStore:
    return DatabaseBlobStore() if backend == "db" else FileBlobStore(root)
