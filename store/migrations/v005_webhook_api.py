"""Migration 5: API keys, the webhook replay guard, ticket fields and ticket sources.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "webhook api: api keys, replay guard, ticket fields and sources"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "api_key" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(200) NOT NULL, "prefix" VARCHAR(16) NOT NULL, "key_hash" VARCHAR(64) NOT NULL, '
        '"scopes" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "last_used_at" DATETIME, '
        '"revoked_at" DATETIME)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "api_key_key_hash" ON "api_key" ("key_hash")',
    (
        'CREATE TABLE IF NOT EXISTS "ticket_field" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "key" VARCHAR(64) NOT NULL, "value" TEXT NOT NULL, '
        '"source" VARCHAR(200) NOT NULL, "updated_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_field_ticket_id" ON "ticket_field" ("ticket_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "ticket_field_ticket_id_key" ON "ticket_field" ("ticket_id", "key")'),
    (
        'CREATE TABLE IF NOT EXISTS "ticket_source" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "source" VARCHAR(200) NOT NULL, "created_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_source_ticket_id" ON "ticket_source" ("ticket_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "ticket_source_ticket_id_source" ON "ticket_source" ("ticket_id", "source")'),
    (
        'CREATE TABLE IF NOT EXISTS "webhook_signature" ("signature" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"source" VARCHAR(200) NOT NULL, "stamp" INTEGER NOT NULL, "seen_at" DATETIME NOT NULL)'
    ),
    'CREATE INDEX IF NOT EXISTS "webhook_signature_stamp" ON "webhook_signature" ("stamp")',
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "api_key" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(200) NOT NULL, "prefix" VARCHAR(16) NOT NULL, "key_hash" VARCHAR(64) NOT NULL, '
        '"scopes" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, "last_used_at" TIMESTAMP, '
        '"revoked_at" TIMESTAMP)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "api_key_key_hash" ON "api_key" ("key_hash")',
    (
        'CREATE TABLE IF NOT EXISTS "ticket_field" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "key" VARCHAR(64) NOT NULL, "value" TEXT NOT NULL, '
        '"source" VARCHAR(200) NOT NULL, "updated_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_field_ticket_id" ON "ticket_field" ("ticket_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "ticket_field_ticket_id_key" ON "ticket_field" ("ticket_id", "key")'),
    (
        'CREATE TABLE IF NOT EXISTS "ticket_source" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "source" VARCHAR(200) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_source_ticket_id" ON "ticket_source" ("ticket_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "ticket_source_ticket_id_source" ON "ticket_source" ("ticket_id", "source")'),
    (
        'CREATE TABLE IF NOT EXISTS "webhook_signature" ("signature" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"source" VARCHAR(200) NOT NULL, "stamp" BIGINT NOT NULL, "seen_at" TIMESTAMP NOT NULL)'
    ),
    'CREATE INDEX IF NOT EXISTS "webhook_signature_stamp" ON "webhook_signature" ("stamp")',
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
