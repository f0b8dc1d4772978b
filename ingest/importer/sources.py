"""Messages out of an mbox file, a Maildir or a folder of .eml files, one at a time.

Each source yields ``Raw`` items in a stable order with a ``pos`` the
checkpoint keeps (a byte offset in an mbox, a relative path in a folder), so
an interrupted import resumes where its last committed batch ended. What
cannot be read becomes a ``Raw`` with an ``error`` and the import goes on.

Hostile input, handled here: an mbox is split only on a real From_ line
(``From sender Www Mmm dd hh:mm...`` after a blank line), so "From the start"
in a body does not cut a message in two, and ``>From`` is unescaped (mboxrd);
a line or a message beyond ``max_bytes`` is skipped, never held whole in
memory; in folders, symbolic links are refused (they may point anywhere on
the host) and directories are walked without following links, each visited
once, so a loop ends.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

_FROM_LINE = re.compile(
    rb"^From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
    rb"Nov|Dec) +\d{1,2} +\d{1,2}:\d\d"
)
_ESCAPED_FROM = re.compile(rb"^>+From ")
_CHUNK = 1 << 16
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass
class Raw:
    where: str  # what a person reads in the report: file and position
    pos: str  # the checkpoint position of this message (resume from here)
    data: bytes = b""
    error: str = ""


class SourceError(ValueError):
    """The source itself cannot be read (missing, wrong kind, a link)."""


def mbox(path: str, *, start: int = 0, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Raw]:
    """The messages of an mbox file from byte ``start`` (the beginning of a message)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{path} is not a regular file")
    with open(path, "rb") as fh:
        fh.seek(start)
        offset = start
        begin: int | None = None
        lines: list[bytes] = []
        size = 0
        too_big = False
        prev_blank = True
        index = 0

        def finish() -> Raw | None:
            nonlocal index
            if begin is None:
                return None
            index += 1
            where = f"{path}:{begin} (message at byte {begin})"
            if too_big:
                return Raw(where, str(begin), error=f"larger than {max_bytes} bytes; skipped")
            data = b"".join(lines)
            if data.endswith(b"\n\n"):  # the blank line before the next From_ belongs to the format
                data = data[:-1]
            return Raw(where, str(begin), data)

        while True:
            line = fh.readline(_CHUNK)
            if not line:
                break
            here = offset
            offset += len(line)
            long_line = not line.endswith(b"\n") and len(line) == _CHUNK
            if prev_blank and line.startswith(b"From ") and _FROM_LINE.match(line):
                done = finish()
                if done is not None:
                    yield done
                begin, lines, size, too_big = here, [], 0, False
                while long_line:  # an absurd From_ line: drop the rest of it
                    more = fh.readline(_CHUNK)
                    offset += len(more)
                    long_line = bool(more) and not more.endswith(b"\n")
                prev_blank = False
                continue
            if begin is None:  # bytes before the first From_ line: not an mbox message
                begin, lines, size, too_big = here, [], 0, False
            if _ESCAPED_FROM.match(line):
                line = line[1:]
            size += len(line)
            if size > max_bytes:
                too_big, lines = True, []
            elif not too_big:
                lines.append(line)
            prev_blank = line in (b"\n", b"\r\n")
        done = finish()
        if done is not None:
            yield done


def _walk(root: str) -> list[tuple[str, str]]:
    """(relative path, absolute path) of the files under ``root``, links not followed, sorted by
    relative path: the checkpoint compares paths, so the order must be the strings' order."""
    seen: set[tuple[int, int]] = set()
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:  # a loop (bind mount): once is enough
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        for name in filenames:
            full = os.path.join(dirpath, name)
            found.append((os.path.relpath(full, root), full))
    return sorted(found)


def _read(full: str, where: str, pos: str, max_bytes: int) -> Raw:
    """One file, refusing links and anything not a regular file (O_NOFOLLOW: no race with a swap)."""
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(full):
            return Raw(where, pos, error="a symbolic link; not followed")
        return Raw(where, pos, error=f"cannot open: {exc.strerror}")
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return Raw(where, pos, error="not a regular file")
        if st.st_size > max_bytes:
            return Raw(where, pos, error=f"larger than {max_bytes} bytes; skipped")
        return Raw(where, pos, fh.read(max_bytes + 1))


def _folder(root: str, keep: "callable", after: str, max_bytes: int) -> Iterator[Raw]:
    if not os.path.isdir(root):
        raise SourceError(f"{root} is not a directory")
    root = os.path.realpath(root)  # the operator named it; links inside it are another matter
    for rel, full in _walk(root):
        if not keep(rel) or (after and rel <= after):
            continue
        if os.path.islink(full):
            yield Raw(full, rel, error="a symbolic link; not followed")
            continue
        yield _read(full, full, rel, max_bytes)


def maildir(root: str, *, after: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Raw]:
    """Every message in ``cur/`` and ``new/`` of the Maildir and of its sub-folders (Maildir++ ``.Folder``)."""

    def keep(rel: str) -> bool:
        parts = rel.split(os.sep)
        return len(parts) >= 2 and parts[-2] in ("cur", "new") and not parts[-1].startswith(".")

    return _folder(root, keep, after, max_bytes)


def eml(root: str, *, after: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Raw]:
    """Every ``*.eml`` file under ``root``, recursively."""
    return _folder(root, lambda rel: rel.lower().endswith(".eml"), after, max_bytes)
