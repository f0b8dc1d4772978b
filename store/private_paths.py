"""Directories and files only Helpline's own user can read, whatever the umask.

The data directory holds customers' mail, the database and its WAL: run by
hand under the common umask 022 they would be world-readable (the systemd
units set ``UMask=0027``, a shell does not). Everything Helpline creates there
is made 0700 (directories) or 0600 (files) explicitly; an existing directory is
left as the operator set it.
"""

from __future__ import annotations

import os

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (and missing parents) as 0700; an existing directory keeps its mode."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        private_dir(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return  # made by a concurrent process a moment ago
    os.chmod(path, DIR_MODE)  # mkdir's mode passes through the umask


def private_file(path: str | os.PathLike[str]) -> None:
    """Create an empty ``path`` as 0600 unless it exists, so that whoever opens it next (SQLite,
    which gives its WAL and shared-memory files the database file's mode) keeps that mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
