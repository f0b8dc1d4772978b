"""Databases made by earlier releases upgrade in place, keep every row, and end as the models describe.

The fixtures under tests/data/schema/ are SQL dumps of databases built and
filled (two rows in every table) by the code of two releases, through their
own migrations: ``first_release`` (commit 6c5cd6e, the first whose .ci/run
landed; schema version 1) and ``v13`` (the last release whose migrations were
one module, commit 6cba248). Regenerate only if a release's history was wrong.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg2
import pytest

from helpline.store import db, migrations

from .schema_check import differences

DATA = Path(__file__).resolve().parent.parent / "data" / "schema"


def _load(engine: str, release: str, url: str, path: str) -> None:
    script = (DATA / f"{release}.{engine}.sql").read_text(encoding="utf-8")
    if engine == "sqlite":
        conn = sqlite3.connect(path)
        conn.executescript(script)
        conn.close()
        return
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(script)
    conn.close()


def _rows(database) -> dict[str, list[tuple]]:
    """Every row of every table, columns by name, in a stable order."""
    out = {}
    for table in database.get_tables():
        cols = sorted(c.name for c in database.get_columns(table))
        quoted = ", ".join(f'"{c}"' for c in cols)
        rows = database.execute_sql(f'SELECT {quoted} FROM "{table}"').fetchall()
        out[table] = (
            cols,
            sorted((tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows), key=repr),
        )
    return out


@pytest.mark.parametrize("release,version", [("first_release", 1), ("v13", 13)])
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_an_old_database_upgrades_in_place_with_its_data(engine, release, version, tmp_path, request):
    if engine == "sqlite":
        path = str(tmp_path / "old.sqlite3")
        url = f"sqlite:///{path}"
    else:
        url, path = request.getfixturevalue("pg_database"), ""
    _load(engine, release, url, path)
    database = db.init(url)
    try:
        assert migrations.current_version() == version
        before = _rows(database)
        assert sum(len(rows) for _, rows in before.values()) > 20  # the fixture is populated

        applied = migrations.upgrade()
        assert applied == [m.version for m in migrations.MIGRATIONS if m.version > version]

        after = _rows(database)
        for table, (cols, rows) in before.items():
            if table == "schema_version":
                continue
            kept_cols, kept_rows = after[table]
            assert set(cols) <= set(kept_cols), table
            keep = [kept_cols.index(c) for c in cols]
            assert sorted((tuple(r[i] for i in keep) for r in kept_rows), key=repr) == rows, table
        assert differences(database) == []
        assert migrations.upgrade() == []
    finally:
        database.close()
