"""Content-addressed blob storage for raw messages and attachments.

Keys are ``sha256:<hex>`` so the same attachment sent a hundred times is stored
once and a key can be checked against its bytes. The filesystem backend suits
one host or a shared filesystem; the database backend lets ingest and worker
hosts share nothing but the database. Both make a blob durable (fsync'd or
committed) before ``put`` returns, because an SMTP 250 follows it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ctypes
import ctypes.util
import hashlib
import os
import platform
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, Protocol, TypeVar, cast

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
    def synced_together(self, whole_filesystem: bool = False) -> contextlib.AbstractContextManager[None]: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _fsync_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(8, thread_name_prefix="blob-fsync")
    return _pool


@functools.cache
def _syncfs_available() -> Callable[[int], int] | None:
    """libc's ``syncfs`` where it reports write-back errors (Linux 5.8 and later; before, it returned 0
    after a failed write-back, and a lost blob would go unnoticed): else None, and callers fsync file by file.
    Looked up once per process."""
    release = platform.release().split(".")
    try:
        recent = platform.system() == "Linux" and (int(release[0]), int(release[1])) >= (5, 8)
    except (IndexError, ValueError):
        recent = False
    if not recent:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.syncfs
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return cast(Callable[[int], int], fn)


def syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding ``path`` (data and metadata) in one call; False where
    ``syncfs`` is unavailable, so the caller falls back to fsync file by file. Raises ``OSError``
    when the filesystem reports a failed write-back."""
    fn = _syncfs_available()
    if fn is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if fn(fd) != 0:
            err = ctypes.get_errno()
            if err == errno.ENOSYS:  # a sandbox without the call
                return False
            raise OSError(err, f"syncfs of the blob store at {path} failed: {os.strerror(err)}")
    finally:
        os.close(fd)
    return True


class _Pending:
    """Blob files written in a ``synced_together`` block, still under their temporary names."""

    def __init__(self, root: Path | None = None) -> None:
        self.files: dict[Path, str] = {}  # final path -> temporary path
        self.root = root  # set: make the block durable with syncfs of this filesystem

    def commit(self) -> None:
        if not self.files:
            return
        if self.root is not None and self._commit_by_syncfs(self.root):
            return
        pool = _fsync_pool()
        list(pool.map(_fsync_file, self.files.values()))  # the filesystem's journal merges concurrent fsyncs
        for final, tmp in self.files.items():
            os.replace(tmp, final)
        list(pool.map(fsync_dir, {final.parent for final in self.files}))
        self.files.clear()

    def _commit_by_syncfs(self, root: Path) -> bool:
        """Two flushes of the filesystem whatever the number of files: one for the files' bytes (and
        the directories made for them) before any takes its content address, one for the renames.
        The second is what lets the caller commit rows naming the blobs."""
        if not syncfs(root):
            return False
        for final, tmp in self.files.items():
            os.replace(tmp, final)
        syncfs(root)
        self.files.clear()
        return True

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
    def synced_together(self, whole_filesystem: bool = False) -> Iterator[None]:
        """Blobs put inside the block (this thread) become durable together when it ends, before the
        caller commits the rows naming them.

        Why: intake stores a batch of messages, each with its raw blob and its
        attachments, and one fsync and one directory fsync per file, one after
        the other, were most of the ingest daemon's batch time. Here the files
        are written under temporary names, fsync'd concurrently (the journal
        merges them), and only then renamed to their content address and the
        directories fsync'd: a file at its final name is always complete, so
        ``put``'s "already there" check never trusts a half-written blob.
        ``whole_filesystem`` (the history import, a hundred messages a block): one ``syncfs(2)`` of
        the store's filesystem instead of a fsync per file and per directory (each blob has its own
        fan-out directory), where the kernel offers it. Not for live intake: its blocks hold a few
        messages, and a flush of the whole filesystem waits for whatever else is writing there.
        Raises ``OSError`` when they cannot be made durable; nothing is renamed then."""
        pending = _Pending(self.root if whole_filesystem else None)
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
    def synced_together(self, whole_filesystem: bool = False) -> contextlib.AbstractContextManager[None]:
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
