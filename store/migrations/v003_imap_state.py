"""Migration 3: the IMAP pollers' lease and progress tables.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "imap poller state"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "imap_folder_state" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"account" VARCHAR(700) NOT NULL, "uidvalidity" INTEGER, "last_uid" INTEGER NOT NULL, '
        '"resync_until" INTEGER NOT NULL, "last_import_at" DATETIME, "attempt_key" VARCHAR(255) NOT NULL, '
        '"attempt_count" INTEGER NOT NULL, "last_error" TEXT NOT NULL, "updated_at" DATETIME NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "imap_folder_state_account" ON "imap_folder_state" ("account")',
    (
        'CREATE TABLE IF NOT EXISTS "imap_lease" ("account" VARCHAR(700) NOT NULL PRIMARY KEY, '
        '"holder" VARCHAR(255) NOT NULL, "expires_at" DATETIME NOT NULL, "acquired_at" DATETIME)'
    ),
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "imap_folder_state" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"account" VARCHAR(700) NOT NULL, "uidvalidity" BIGINT, "last_uid" BIGINT NOT NULL, '
        '"resync_until" BIGINT NOT NULL, "last_import_at" TIMESTAMP, "attempt_key" VARCHAR(255) NOT NULL, '
        '"attempt_count" INTEGER NOT NULL, "last_error" TEXT NOT NULL, "updated_at" TIMESTAMP NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "imap_folder_state_account" ON "imap_folder_state" ("account")',
    (
        'CREATE TABLE IF NOT EXISTS "imap_lease" ("account" VARCHAR(700) NOT NULL PRIMARY KEY, '
        '"holder" VARCHAR(255) NOT NULL, "expires_at" TIMESTAMP NOT NULL, "acquired_at" TIMESTAMP)'
    ),
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
