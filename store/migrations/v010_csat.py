"""Migration 10: CSAT surveys and answers, one per ticket.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "csat surveys and answers"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "csat_survey" ("ticket_id" INTEGER NOT NULL PRIMARY KEY, '
        '"channel" VARCHAR(255) NOT NULL, "recipient" VARCHAR(255) NOT NULL, "sent_at" DATETIME NOT NULL, '
        '"expires_at" DATETIME NOT NULL, "score" INTEGER, "comment" TEXT NOT NULL, "answered_at" DATETIME, '
        '"answered_via" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "csat_survey_recipient" ON "csat_survey" ("recipient")',
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "csat_survey" ("ticket_id" INTEGER NOT NULL PRIMARY KEY, '
        '"channel" VARCHAR(255) NOT NULL, "recipient" VARCHAR(255) NOT NULL, "sent_at" TIMESTAMP NOT NULL, '
        '"expires_at" TIMESTAMP NOT NULL, "score" INTEGER, "comment" TEXT NOT NULL, '
        '"answered_at" TIMESTAMP, "answered_via" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "csat_survey_recipient" ON "csat_survey" ("recipient")',
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
