"""Migration 6: Slack threads of tickets, and Slack agents.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "slack threads and agents"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "slack_agent" ("user_id" VARCHAR(40) NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, '
        '"last_seen_at" DATETIME NOT NULL)'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "slack_thread" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "channel" VARCHAR(40) NOT NULL, "ts" VARCHAR(40) NOT NULL, '
        '"created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "slack_thread_ticket_id" ON "slack_thread" ("ticket_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "slack_thread_channel_ts" ON "slack_thread" ("channel", "ts")',
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "slack_agent" ("user_id" VARCHAR(40) NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
        '"last_seen_at" TIMESTAMP NOT NULL)'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "slack_thread" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "channel" VARCHAR(40) NOT NULL, "ts" VARCHAR(40) NOT NULL, '
        '"created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "slack_thread_ticket_id" ON "slack_thread" ("ticket_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "slack_thread_channel_ts" ON "slack_thread" ("channel", "ts")',
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
