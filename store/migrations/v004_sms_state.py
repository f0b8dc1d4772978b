"""Migration 4: SMS opt-out state and the MMS media fetch queue.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "sms opt-outs and mms media"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "sms_media" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"message_id" INTEGER NOT NULL, "position" INTEGER NOT NULL, "url" TEXT NOT NULL, '
        '"content_type" VARCHAR(255) NOT NULL, "status" VARCHAR(255) NOT NULL, '
        '"attempts" INTEGER NOT NULL, "last_error" TEXT NOT NULL, "size" INTEGER, '
        '"blob_key" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "sms_media_message_id" ON "sms_media" ("message_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "sms_media_message_id_position" ON "sms_media" ("message_id", "position")'),
    'CREATE INDEX IF NOT EXISTS "sms_media_status_updated_at" ON "sms_media" ("status", "updated_at")',
    (
        'CREATE TABLE IF NOT EXISTS "sms_opt_out" ("number" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"opted_out" INTEGER NOT NULL, "keyword" VARCHAR(255) NOT NULL, "source" VARCHAR(255) NOT NULL, '
        '"updated_at" DATETIME NOT NULL)'
    ),
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "sms_media" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"message_id" INTEGER NOT NULL, "position" INTEGER NOT NULL, "url" TEXT NOT NULL, '
        '"content_type" VARCHAR(255) NOT NULL, "status" VARCHAR(255) NOT NULL, '
        '"attempts" INTEGER NOT NULL, "last_error" TEXT NOT NULL, "size" BIGINT, '
        '"blob_key" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
        '"updated_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "sms_media_message_id" ON "sms_media" ("message_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "sms_media_message_id_position" ON "sms_media" ("message_id", "position")'),
    'CREATE INDEX IF NOT EXISTS "sms_media_status_updated_at" ON "sms_media" ("status", "updated_at")',
    (
        'CREATE TABLE IF NOT EXISTS "sms_opt_out" ("number" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"opted_out" BOOLEAN NOT NULL, "keyword" VARCHAR(255) NOT NULL, "source" VARCHAR(255) NOT NULL, '
        '"updated_at" TIMESTAMP NOT NULL)'
    ),
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
