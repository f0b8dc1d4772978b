"""Durable file writes: temporary file beside the target, fsync, rename, fsync the directory.

Readers see the old file or the new one, never half of one, and after the
function returns the new file survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def fsync_dir(path: Path, *, strict: bool = True) -> None:
    """Make a rename in ``path`` durable; ``strict=False`` tolerates filesystems that refuse."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)


def write_atomic(
    path: Path,
    write: Callable[[BinaryIO], object],
    *,
    mode: int | None = None,
    strict: bool = True,
    prefix: str | None = None,
    parent_exists: bool = False,
) -> None:
    """Write ``path`` through ``write(fh)``; ``mode`` overrides mkstemp's 0600.
    ``parent_exists`` skips the mkdir for a caller that knows the directory is there."""
    if not parent_exists:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix or f".{path.name}.", suffix="" if prefix else ".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent, strict=strict)
