"""The desk's clock: naive UTC now, or the message's own date while a history import runs.

Every timestamp the desk writes comes from here (the models' column defaults too), so that an import
(``import_mode``) dates what it writes as of each imported message. Code outside ``store/`` takes the
time from here, not from ``models``.
"""
from __future__ import annotations

import datetime as dt

from .import_mode import now as _import_now


def utcnow() -> dt.datetime:
    return _import_now() or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
