"""Migration 2: hourly counters for the automatic-reply rate limits.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "rate counters"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "rate_counter" ("key" VARCHAR(400) NOT NULL, '
        '"bucket" INTEGER NOT NULL, "count" INTEGER NOT NULL, PRIMARY KEY ("key", "bucket"))'
    ),
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "rate_counter" ("key" VARCHAR(400) NOT NULL, '
        '"bucket" INTEGER NOT NULL, "count" INTEGER NOT NULL, PRIMARY KEY ("key", "bucket"))'
    ),
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
