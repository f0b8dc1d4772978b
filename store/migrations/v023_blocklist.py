"""Migration 23: the block list's entries added with ``helpline blocklist add`` (TOML ``[blocklist]`` is read
from the file, not stored).

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

NAME = "block list of senders and domains"

_DDL = {
    "sqlite": [
        'CREATE TABLE IF NOT EXISTS "blocked_sender" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"kind" VARCHAR(16) NOT NULL, "value" VARCHAR(254) NOT NULL, "reason" TEXT NOT NULL, '
        '"added_by" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL)',
    ],
    "postgres": [
        'CREATE TABLE IF NOT EXISTS "blocked_sender" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"kind" VARCHAR(16) NOT NULL, "value" VARCHAR(254) NOT NULL, "reason" TEXT NOT NULL, '
        '"added_by" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL)',
    ],
}
_INDEX = 'CREATE UNIQUE INDEX IF NOT EXISTS "blockedsender_kind_value" ON "blocked_sender" ("kind", "value")'


def upgrade(db: pw.Database) -> None:
    """Migration 23: ``blocked_sender`` (kind ``sender`` or ``domain``, the value, why and who)."""
    for sql in _DDL["sqlite" if isinstance(db, pw.SqliteDatabase) else "postgres"] + [_INDEX]:
        db.execute_sql(sql)
