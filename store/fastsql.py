"""Plain SQL for the pipeline's hot path.

peewee builds every statement from an expression tree, which costs a few
hundred microseconds per statement: more than SQLite takes to run it. The
pipeline issues some twenty statements per message, so its writes and its
hottest reads go through here instead: SQL text written once, cached per
shape, values converted the way peewee's fields would store them. The peewee
models stay the schema's single definition; everything else keeps using them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Sequence, overload

import peewee

from helpline.store.db import database

_sql_cache: dict[tuple[Any, ...], str] = {}


_PLAIN = frozenset({str, int, float, bool, type(None), bytes})


def _value(v: Any, sqlite: bool) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    if sqlite and isinstance(v, dt.datetime):
        return str(v)  # the text form peewee stores on SQLite
    return v


def as_datetime(value: Any) -> dt.datetime | None:
    """A timestamp column as read back: SQLite hands back text (the form ``_value`` stores), PostgreSQL a
    datetime; None stays None."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _param(sql: str, sqlite: bool) -> str:
    """Statements are written with ``?``; psycopg2 wants ``%s``."""
    if sqlite:
        return sql
    key = ("pg", sql)
    out = _sql_cache.get(key)
    if out is None:
        out = _sql_cache[key] = sql.replace("%", "%%").replace("?", "%s")
    return out


def execute(sql: str, params: Sequence[Any] = ()) -> Any:
    db = database()
    sqlite = isinstance(db, peewee.SqliteDatabase)
    plain = _PLAIN  # inlined: this runs for ~140 parameters per message
    if sqlite:  # timestamps are most of the rest: the text form peewee stores on SQLite
        values = tuple(
            [p if type(p) in plain else str(p) if type(p) is dt.datetime else _value(p, True) for p in params]
        )
    else:
        values = tuple([p if type(p) in plain else _value(p, False) for p in params])
    return db.execute_sql(_param(sql, sqlite), values)


def fetchone(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = execute(sql, params).fetchone()
    return row


def fetchrow(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    """``fetchone`` for a row that must exist (the ticket the caller works on); LookupError if it does not."""
    row = fetchone(sql, params)
    if row is None:
        raise LookupError(f"expected a row from: {sql[:120]}")
    return row


def fetchall(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = execute(sql, params).fetchall()
    return rows


@overload
def insert(table: str, row: dict[str, Any]) -> int: ...
@overload
def insert(table: str, row: dict[str, Any], *, on_conflict: str) -> int | None: ...
def insert(table: str, row: dict[str, Any], *, on_conflict: str = "") -> int | None:
    """INSERT one row and return its id (None when ``on_conflict`` skipped it).

    ``on_conflict`` is a literal clause such as ``ON CONFLICT DO NOTHING``,
    which both engines understand."""
    keys = tuple(row)
    cache_key = ("ins", table, keys, on_conflict)
    sql = _sql_cache.get(cache_key)
    if sql is None:
        cols = ", ".join(f'"{k}"' for k in keys)
        marks = ", ".join("?" for _ in keys)
        sql = _sql_cache[cache_key] = f'INSERT INTO "{table}" ({cols}) VALUES ({marks}) {on_conflict} RETURNING "id"'
    got = fetchone(sql, list(row.values()))
    return got[0] if got else None


def insert_many(table: str, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if not rows:
        return
    keys = tuple(rows[0])
    cols = ", ".join(f'"{k}"' for k in keys)
    one = "(" + ", ".join("?" for _ in keys) + ")"
    sql = f'INSERT INTO "{table}" ({cols}) VALUES ' + ", ".join([one] * len(rows))
    execute(sql, [r[k] for r in rows for k in keys])


def update(table: str, row_id: int, values: dict[str, Any]) -> None:
    keys = tuple(values)
    cache_key = ("upd", table, keys)
    sql = _sql_cache.get(cache_key)
    if sql is None:
        sets = ", ".join(f'"{k}" = ?' for k in keys)
        sql = _sql_cache[cache_key] = f'UPDATE "{table}" SET {sets} WHERE "id" = ?'
    execute(sql, [*values.values(), row_id])


def in_marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))
