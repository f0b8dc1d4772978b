"""Human ticket numbers such as ``HL-2026-000123``: unique, gap-tolerant.

PostgreSQL takes them from a sequence, which never hands out a number twice and
never blocks another transaction (a rolled-back one leaves a gap, which is fine).
On SQLite the caller already holds the database's single write lock, so a
counter row incremented in the same transaction is just as safe.
"""
from __future__ import annotations

import datetime as dt
import re

from . import models
from .db import database, is_sqlite

PREFIX = "HL"
NUMBER_RE = re.compile(r"^HL-\d{4}-\d{6,}$")


def next_ticket_number(now: dt.datetime | None = None) -> str:
    year = (now or models.utcnow()).year
    if is_sqlite():
        models.Counter.insert(name="ticket", value=1).on_conflict(
            conflict_target=[models.Counter.name],
            update={models.Counter.value: models.Counter.value + 1},
        ).execute()
        n = models.Counter.get_by_id("ticket").value
    else:
        n = database().execute_sql("SELECT nextval('helpline_ticket_number')").fetchone()[0]
    return f"{PREFIX}-{year}-{n:06d}"
