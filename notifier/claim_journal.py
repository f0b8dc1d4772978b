"""Which claimed outbox rows a sender process has started to send: a small file per channel.

A scheduler killed in the middle of a delivery round leaves its claim in
``sending``; only the row whose send had begun is unknowable. The journal
lists the round's claimed ids and marks each one before its provider call, so
the next start gives the never-tried rows back at once (``unstarted``) and
leaves only the one in flight to the lease (``outbox.recover_stuck``).
No fsync: it guards against a killed process, whose writes the kernel keeps.
"""

from __future__ import annotations

import os
from pathlib import Path

from helpline.store.private_paths import FILE_MODE, private_dir


class ClaimJournal:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def claimed(self, row_ids: list[int]) -> None:
        """A new round: forget the last one, list these ids."""
        private_dir(self.path.parent)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.write(self._fd, ("claimed " + " ".join(map(str, row_ids)) + "\n").encode())

    def started(self, row_id: int) -> None:
        if self._fd is not None:
            os.write(self._fd, f"started {row_id}\n".encode())

    def finished(self) -> None:
        """The round is over, every row recorded: nothing to give back."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)

    def unstarted(self) -> list[int]:
        """Ids a previous process claimed and never began to send (empty without a journal)."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        claimed: list[int] = []
        started: set[int] = set()
        for line in lines:
            word, _, rest = line.partition(" ")
            ids = [int(x) for x in rest.split() if x.isdigit()]
            if word == "claimed":
                claimed = ids
            elif word == "started":
                started.update(ids)
        return [i for i in claimed if i not in started]
