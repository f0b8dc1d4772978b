"""The ingest host's own spool: where accepted mail waits while the database is down.

Each entry is one file, written to a temporary name, fsync'd, renamed and the
directory fsync'd, so an entry is either whole or absent after a power cut.
Only this host's ingest daemon (or scheduler) drains it, under a file lock so
two drainers on one host never take the same entry.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from helpline.store.private_paths import FILE_MODE, private_dir

log = logging.getLogger("helpline.ingest")


class Spool:
    def __init__(self, directory: str) -> None:
        self.dir = Path(directory)

    def put(self, raw: bytes, meta: dict[str, Any]) -> str:
        private_dir(self.dir)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.msg"
        tmp = self.dir / ("." + name + ".tmp")
        try:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as fh:
                fh.write(json.dumps(meta, separators=(",", ":")).encode() + b"\n")
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.dir / name)
        except BaseException:  # a full disk: no partial entry left behind per attempt
            tmp.unlink(missing_ok=True)
            raise
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return name

    def __len__(self) -> int:
        return sum(1 for _ in self._entries())

    def _entries(self) -> Iterator[Path]:
        if not self.dir.is_dir():
            return iter(())
        return iter(sorted(p for p in self.dir.iterdir() if p.suffix == ".msg" and not p.name.startswith(".")))

    def drain(self, handle: Callable[[bytes, dict[str, Any]], None], limit: int = 1000) -> int:
        """Hand entries to ``handle`` oldest first; an entry is deleted only after
        ``handle`` returned. Stops at the first exception (the database is still
        down) and leaves that entry for the next round."""
        if not self.dir.is_dir():
            return 0
        done = 0
        with open(self.dir / ".lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
            for path in list(self._entries())[:limit]:
                data = path.read_bytes()
                head, _, raw = data.partition(b"\n")
                handle(raw, json.loads(head))
                path.unlink()
                done += 1
        if done:
            log.info("event=spool_drained count=%d", done)
        return done
