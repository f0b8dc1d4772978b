"""Human ticket numbers such as ``HL-2026-000123``: unique, gap-tolerant.

PostgreSQL takes them from a sequence, which never hands out a number twice and
never blocks another transaction (a rolled-back one leaves a gap, which is fine).
On SQLite the caller already holds the database's single write lock, so a
counter row incremented in the same transaction is just as safe.
"""

from __future__ import annotations

import datetime as dt
import re

from helpline.store import models  # noqa: F401 - the counter table
from helpline.store.db import database, is_sqlite

PREFIX = "HL"
NUMBER_RE = re.compile(r"^HL-\d{4}-\d{6,}$")


def next_ticket_number(now: dt.datetime | None = None) -> str:
    year = (now or models.utcnow()).year
    if is_sqlite():
        n = (
            database()
            .execute_sql(
                "INSERT INTO counter (name, value) VALUES ('ticket', 1) "
                "ON CONFLICT (name) DO UPDATE SET value = counter.value + 1 RETURNING value"
            )
            .fetchone()[0]
        )
    else:
        n = database().execute_sql("SELECT nextval('helpline_ticket_number')").fetchone()[0]
    return f"{PREFIX}-{year}-{n:06d}"
