"""Whether this thread is importing history, and the clock it runs on.

A history import runs the live pipeline over years of old mail. Every layer
that would speak to someone (the outbox) or start a timer (SLA clocks) asks
``active()`` and stays quiet, so one switch covers every send path instead of
a branch per stage; and ``store.models.utcnow`` answers the imported
message's own date, so tickets, events and dedupe windows carry the history's
times rather than the import's. A context variable: only the importing thread
is affected, never live workers in the same process.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator

_active: contextvars.ContextVar[bool] = contextvars.ContextVar("helpline_importing", default=False)
_clock: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("helpline_import_clock", default=None)


def active() -> bool:
    return _active.get()


def now() -> dt.datetime | None:
    """The imported message's date (naive UTC) while one is being processed, else None."""
    return _clock.get()


@contextlib.contextmanager
def importing() -> Iterator[None]:
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)


@contextlib.contextmanager
def clock(at: dt.datetime | None) -> Iterator[None]:
    """Run the block as of ``at`` (naive UTC); None keeps the real clock."""
    token = _clock.set(at)
    try:
        yield
    finally:
        _clock.reset(token)
