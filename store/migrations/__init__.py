"""Versioned schema migrations, safe when several hosts start at once.

A migration is one frozen module in this package, ``vNNN_what.py``: NNN is its
version, ``NAME`` its name and ``upgrade(db)`` applies it, with the DDL (per
engine) or ``playhouse.migrate`` operations of that version written out in the
file. A migration never imports the live models (``store/models.py`` and the
``*_state`` modules): they describe the schema as it is now, a migration the
step as it was then. Adding a table or column is a new file here plus the
model change; nothing else needs registering. An applied migration is never
edited: write the next one against the schema the earlier ones left.

Each migration runs once, in number order, inside one transaction that first
takes a lock (a PostgreSQL advisory transaction lock; SQLite's write lock from
``BEGIN IMMEDIATE``), so two hosts running ``helpline db upgrade`` together
apply it exactly once. Which migrations ran is kept as a set (``schema_version``
rows), not a high-water mark: one merged after a higher-numbered one (parallel
branches) still runs. See ARCHITECTURE.md (schema and migrations).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import pkgutil
import re
from typing import Callable, NamedTuple

import peewee

from helpline.store.db import database, is_sqlite, write_tx

log = logging.getLogger("helpline.store")

_LOCK_KEY = 0x48454C50  # "HELP"
_MODULE = re.compile(r"^v(\d{3})_\w+$")

# The runner's own table, frozen like a migration's (it exists before any migration runs).
_SCHEMA_VERSION = {
    "sqlite": 'CREATE TABLE IF NOT EXISTS "schema_version" ("version" INTEGER NOT NULL PRIMARY KEY, '
    '"name" VARCHAR(255) NOT NULL, "applied_at" DATETIME NOT NULL)',
    "postgres": 'CREATE TABLE IF NOT EXISTS "schema_version" ("version" INTEGER NOT NULL PRIMARY KEY, '
    '"name" VARCHAR(255) NOT NULL, "applied_at" TIMESTAMP NOT NULL)',
}


class Migration(NamedTuple):
    version: int
    name: str
    apply: Callable[[peewee.Database], None]


def discover() -> list[Migration]:
    """Every ``vNNN_*.py`` module of this package, in version order."""
    found: dict[int, Migration] = {}
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE.match(info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(
                f"two migrations claim version {version}: {found[version].name!r} and "
                f"{info.name}; renumber one of the files in store/migrations/"
            )
        found[version] = Migration(version, module.NAME, module.upgrade)
    return [found[v] for v in sorted(found)]


MIGRATIONS: list[Migration] = discover()
LATEST = max(mig.version for mig in MIGRATIONS)


def _applied(db: peewee.Database) -> set[int]:
    return {int(v) for (v,) in db.execute_sql('SELECT "version" FROM "schema_version"').fetchall()}


def current_version() -> int:
    db = database()
    if not db.table_exists("schema_version"):
        return 0
    return max(_applied(db), default=0)


def upgrade() -> list[int]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    db = database()
    applied: list[int] = []
    with write_tx():
        if not is_sqlite():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        db.execute_sql(_SCHEMA_VERSION["sqlite" if is_sqlite() else "postgres"])
        have = _applied(db)
        mark = db.param
        for version, name, fn in sorted(MIGRATIONS, key=lambda mig: mig[0]):  # in number order, however listed
            if version in have:
                continue
            fn(db)
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            db.execute_sql(
                f'INSERT INTO "schema_version" ("version", "name", "applied_at") VALUES ({mark}, {mark}, {mark})',
                (version, name, str(now)),
            )
            log.info("event=migration_applied version=%d name=%r", version, name)
            applied.append(version)
    return applied
