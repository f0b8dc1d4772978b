"""Migration 1: the core tables (customers, tickets, messages, inbound, outbox, ...).

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "initial schema"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "customer" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(255) NOT NULL, "tier" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL)'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "ticket" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"number" VARCHAR(255) NOT NULL, "subject" TEXT NOT NULL, "status" VARCHAR(255) NOT NULL, '
        '"priority" VARCHAR(255) NOT NULL, "category" VARCHAR(255), "team" VARCHAR(255), '
        '"assignee" VARCHAR(255), "language" VARCHAR(255), "channel" VARCHAR(255) NOT NULL, '
        '"customer_id" INTEGER NOT NULL, "support_address" VARCHAR(255) NOT NULL, '
        '"follow_up_of_id" INTEGER, "possible_follow_up" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, '
        '"updated_at" DATETIME NOT NULL, "last_customer_at" DATETIME NOT NULL, "resolved_at" DATETIME, '
        '"closed_at" DATETIME, FOREIGN KEY ("customer_id") REFERENCES "customer" ("id"), '
        'FOREIGN KEY ("follow_up_of_id") REFERENCES "ticket" ("id"))'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "ticket_number" ON "ticket" ("number")',
    'CREATE INDEX IF NOT EXISTS "ticket_status" ON "ticket" ("status")',
    'CREATE INDEX IF NOT EXISTS "ticket_customer_id" ON "ticket" ("customer_id")',
    'CREATE INDEX IF NOT EXISTS "ticket_follow_up_of_id" ON "ticket" ("follow_up_of_id")',
    'CREATE INDEX IF NOT EXISTS "ticket_created_at" ON "ticket" ("created_at")',
    (
        'CREATE TABLE IF NOT EXISTS "inbound" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"channel" VARCHAR(255) NOT NULL, "external_id" VARCHAR(998) NOT NULL, '
        '"content_hash" VARCHAR(64) NOT NULL, "status" VARCHAR(255) NOT NULL, "reason" TEXT NOT NULL, '
        '"envelope" TEXT NOT NULL, "raw_blob_key" VARCHAR(255) NOT NULL, "attempts" INTEGER NOT NULL, '
        '"received_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, "processed_at" DATETIME, '
        '"ticket_id" INTEGER, "source_host" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id"))'
    ),
    'CREATE INDEX IF NOT EXISTS "inbound_ticket_id" ON "inbound" ("ticket_id")',
    (
        'CREATE UNIQUE INDEX IF NOT EXISTS "inbound_channel_external_id_content_hash" ON "inbound" ("channel", '
        '"external_id", "content_hash")'
    ),
    'CREATE INDEX IF NOT EXISTS "inbound_status_updated_at" ON "inbound" ("status", "updated_at")',
    (
        'CREATE TABLE IF NOT EXISTS "message" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "inbound_id" INTEGER, "direction" VARCHAR(255) NOT NULL, '
        '"author_role" VARCHAR(255) NOT NULL, "author" VARCHAR(255) NOT NULL, '
        '"channel" VARCHAR(255) NOT NULL, "external_id" VARCHAR(998) NOT NULL, '
        '"message_id" VARCHAR(998) NOT NULL, "sender" VARCHAR(255) NOT NULL, "subject" TEXT NOT NULL, '
        '"text" TEXT NOT NULL, "full_text" TEXT NOT NULL, "html" TEXT NOT NULL, '
        '"body_hash" VARCHAR(255) NOT NULL, "raw_blob_key" VARCHAR(255) NOT NULL, "auth" TEXT, '
        '"warnings" TEXT, "delivery_status" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("inbound_id") REFERENCES "inbound" ("id"))'
    ),
    'CREATE INDEX IF NOT EXISTS "message_ticket_id" ON "message" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "message_inbound_id" ON "message" ("inbound_id")',
    'CREATE INDEX IF NOT EXISTS "message_message_id" ON "message" ("message_id")',
    'CREATE INDEX IF NOT EXISTS "message_sender" ON "message" ("sender")',
    'CREATE INDEX IF NOT EXISTS "message_body_hash" ON "message" ("body_hash")',
    'CREATE INDEX IF NOT EXISTS "message_created_at" ON "message" ("created_at")',
    (
        'CREATE TABLE IF NOT EXISTS "attachment" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"message_id" INTEGER NOT NULL, "filename" TEXT NOT NULL, "content_type" VARCHAR(255) NOT NULL, '
        '"size" INTEGER NOT NULL, "sha256" VARCHAR(64) NOT NULL, "blob_key" VARCHAR(255) NOT NULL, '
        '"inline" INTEGER NOT NULL, "content_id" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "attachment_message_id" ON "attachment" ("message_id")',
    (
        'CREATE TABLE IF NOT EXISTS "blob" ("key" VARCHAR(80) NOT NULL PRIMARY KEY, '
        '"size" INTEGER NOT NULL, "data" BLOB NOT NULL, "created_at" DATETIME NOT NULL)'
    ),
    ('CREATE TABLE IF NOT EXISTS "counter" ("name" VARCHAR(255) NOT NULL PRIMARY KEY, "value" INTEGER NOT NULL)'),
    (
        'CREATE TABLE IF NOT EXISTS "event" ("id" INTEGER NOT NULL PRIMARY KEY, "ticket_id" INTEGER, '
        '"actor" VARCHAR(255) NOT NULL, "kind" VARCHAR(255) NOT NULL, "data" TEXT, '
        '"created_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "event_ticket_id" ON "event" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "event_kind" ON "event" ("kind")',
    'CREATE INDEX IF NOT EXISTS "event_created_at" ON "event" ("created_at")',
    (
        'CREATE TABLE IF NOT EXISTS "identity" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"customer_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "address" VARCHAR(255) NOT NULL, '
        '"created_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("customer_id") REFERENCES "customer" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "identity_customer_id" ON "identity" ("customer_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "identity_kind_address" ON "identity" ("kind", "address")',
    (
        'CREATE TABLE IF NOT EXISTS "outbox" ("id" INTEGER NOT NULL PRIMARY KEY, "ticket_id" INTEGER, '
        '"out_message_id" INTEGER, "channel" VARCHAR(255) NOT NULL, "kind" VARCHAR(255) NOT NULL, '
        '"recipient" VARCHAR(255) NOT NULL, "payload" TEXT NOT NULL, "message_id" VARCHAR(998) NOT NULL, '
        '"status" VARCHAR(255) NOT NULL, "attempts" INTEGER NOT NULL, "next_attempt_at" DATETIME NOT NULL, '
        '"last_error" TEXT NOT NULL, "provider_id" TEXT NOT NULL, "unique_key" VARCHAR(255) NOT NULL, '
        '"created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, "sent_at" DATETIME, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id"), '
        'FOREIGN KEY ("out_message_id") REFERENCES "message" ("id"))'
    ),
    'CREATE INDEX IF NOT EXISTS "outbox_ticket_id" ON "outbox" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "outbox_out_message_id" ON "outbox" ("out_message_id")',
    'CREATE INDEX IF NOT EXISTS "outbox_recipient" ON "outbox" ("recipient")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_id" ON "outbox" ("message_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "outbox_unique_key" ON "outbox" ("unique_key")',
    'CREATE INDEX IF NOT EXISTS "outbox_created_at" ON "outbox" ("created_at")',
    ('CREATE INDEX IF NOT EXISTS "outbox_status_next_attempt_at" ON "outbox" ("status", "next_attempt_at")'),
    (
        'CREATE TABLE IF NOT EXISTS "participant" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "address" VARCHAR(255) NOT NULL, '
        '"role" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "participant_ticket_id" ON "participant" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "participant_address" ON "participant" ("address")',
    (
        'CREATE UNIQUE INDEX IF NOT EXISTS "participant_ticket_id_kind_address" ON "participant" ("ticket_id", '
        '"kind", "address")'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "thread_key" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"key" VARCHAR(998) NOT NULL, "ticket_id" INTEGER NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "thread_key_key" ON "thread_key" ("key")',
    'CREATE INDEX IF NOT EXISTS "thread_key_ticket_id" ON "thread_key" ("ticket_id")',
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "customer" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(255) NOT NULL, "tier" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL)'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "ticket" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"number" VARCHAR(255) NOT NULL, "subject" TEXT NOT NULL, "status" VARCHAR(255) NOT NULL, '
        '"priority" VARCHAR(255) NOT NULL, "category" VARCHAR(255), "team" VARCHAR(255), '
        '"assignee" VARCHAR(255), "language" VARCHAR(255), "channel" VARCHAR(255) NOT NULL, '
        '"customer_id" INTEGER NOT NULL, "support_address" VARCHAR(255) NOT NULL, '
        '"follow_up_of_id" INTEGER, "possible_follow_up" BOOLEAN NOT NULL, '
        '"created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, '
        '"last_customer_at" TIMESTAMP NOT NULL, "resolved_at" TIMESTAMP, "closed_at" TIMESTAMP, '
        'FOREIGN KEY ("customer_id") REFERENCES "customer" ("id"), '
        'FOREIGN KEY ("follow_up_of_id") REFERENCES "ticket" ("id"))'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "ticket_number" ON "ticket" ("number")',
    'CREATE INDEX IF NOT EXISTS "ticket_status" ON "ticket" ("status")',
    'CREATE INDEX IF NOT EXISTS "ticket_customer_id" ON "ticket" ("customer_id")',
    'CREATE INDEX IF NOT EXISTS "ticket_follow_up_of_id" ON "ticket" ("follow_up_of_id")',
    'CREATE INDEX IF NOT EXISTS "ticket_created_at" ON "ticket" ("created_at")',
    (
        'CREATE TABLE IF NOT EXISTS "inbound" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"channel" VARCHAR(255) NOT NULL, "external_id" VARCHAR(998) NOT NULL, '
        '"content_hash" VARCHAR(64) NOT NULL, "status" VARCHAR(255) NOT NULL, "reason" TEXT NOT NULL, '
        '"envelope" TEXT NOT NULL, "raw_blob_key" VARCHAR(255) NOT NULL, "attempts" INTEGER NOT NULL, '
        '"received_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "processed_at" TIMESTAMP, '
        '"ticket_id" INTEGER, "source_host" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id"))'
    ),
    'CREATE INDEX IF NOT EXISTS "inbound_ticket_id" ON "inbound" ("ticket_id")',
    (
        'CREATE UNIQUE INDEX IF NOT EXISTS "inbound_channel_external_id_content_hash" ON "inbound" ("channel", '
        '"external_id", "content_hash")'
    ),
    'CREATE INDEX IF NOT EXISTS "inbound_status_updated_at" ON "inbound" ("status", "updated_at")',
    (
        'CREATE TABLE IF NOT EXISTS "message" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "inbound_id" INTEGER, "direction" VARCHAR(255) NOT NULL, '
        '"author_role" VARCHAR(255) NOT NULL, "author" VARCHAR(255) NOT NULL, '
        '"channel" VARCHAR(255) NOT NULL, "external_id" VARCHAR(998) NOT NULL, '
        '"message_id" VARCHAR(998) NOT NULL, "sender" VARCHAR(255) NOT NULL, "subject" TEXT NOT NULL, '
        '"text" TEXT NOT NULL, "full_text" TEXT NOT NULL, "html" TEXT NOT NULL, '
        '"body_hash" VARCHAR(255) NOT NULL, "raw_blob_key" VARCHAR(255) NOT NULL, "auth" TEXT, '
        '"warnings" TEXT, "delivery_status" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("inbound_id") REFERENCES "inbound" ("id"))'
    ),
    'CREATE INDEX IF NOT EXISTS "message_ticket_id" ON "message" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "message_inbound_id" ON "message" ("inbound_id")',
    'CREATE INDEX IF NOT EXISTS "message_message_id" ON "message" ("message_id")',
    'CREATE INDEX IF NOT EXISTS "message_sender" ON "message" ("sender")',
    'CREATE INDEX IF NOT EXISTS "message_body_hash" ON "message" ("body_hash")',
    'CREATE INDEX IF NOT EXISTS "message_created_at" ON "message" ("created_at")',
    (
        'CREATE TABLE IF NOT EXISTS "attachment" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"message_id" INTEGER NOT NULL, "filename" TEXT NOT NULL, "content_type" VARCHAR(255) NOT NULL, '
        '"size" INTEGER NOT NULL, "sha256" VARCHAR(64) NOT NULL, "blob_key" VARCHAR(255) NOT NULL, '
        '"inline" BOOLEAN NOT NULL, "content_id" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "attachment_message_id" ON "attachment" ("message_id")',
    (
        'CREATE TABLE IF NOT EXISTS "blob" ("key" VARCHAR(80) NOT NULL PRIMARY KEY, '
        '"size" BIGINT NOT NULL, "data" BYTEA NOT NULL, "created_at" TIMESTAMP NOT NULL)'
    ),
    ('CREATE TABLE IF NOT EXISTS "counter" ("name" VARCHAR(255) NOT NULL PRIMARY KEY, "value" BIGINT NOT NULL)'),
    (
        'CREATE TABLE IF NOT EXISTS "event" ("id" SERIAL NOT NULL PRIMARY KEY, "ticket_id" INTEGER, '
        '"actor" VARCHAR(255) NOT NULL, "kind" VARCHAR(255) NOT NULL, "data" TEXT, '
        '"created_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "event_ticket_id" ON "event" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "event_kind" ON "event" ("kind")',
    'CREATE INDEX IF NOT EXISTS "event_created_at" ON "event" ("created_at")',
    (
        'CREATE TABLE IF NOT EXISTS "identity" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"customer_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "address" VARCHAR(255) NOT NULL, '
        '"created_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("customer_id") REFERENCES "customer" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "identity_customer_id" ON "identity" ("customer_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "identity_kind_address" ON "identity" ("kind", "address")',
    (
        'CREATE TABLE IF NOT EXISTS "outbox" ("id" SERIAL NOT NULL PRIMARY KEY, "ticket_id" INTEGER, '
        '"out_message_id" INTEGER, "channel" VARCHAR(255) NOT NULL, "kind" VARCHAR(255) NOT NULL, '
        '"recipient" VARCHAR(255) NOT NULL, "payload" TEXT NOT NULL, "message_id" VARCHAR(998) NOT NULL, '
        '"status" VARCHAR(255) NOT NULL, "attempts" INTEGER NOT NULL, '
        '"next_attempt_at" TIMESTAMP NOT NULL, "last_error" TEXT NOT NULL, "provider_id" TEXT NOT NULL, '
        '"unique_key" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
        '"updated_at" TIMESTAMP NOT NULL, "sent_at" TIMESTAMP, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id"), '
        'FOREIGN KEY ("out_message_id") REFERENCES "message" ("id"))'
    ),
    'CREATE INDEX IF NOT EXISTS "outbox_ticket_id" ON "outbox" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "outbox_out_message_id" ON "outbox" ("out_message_id")',
    'CREATE INDEX IF NOT EXISTS "outbox_recipient" ON "outbox" ("recipient")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_id" ON "outbox" ("message_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "outbox_unique_key" ON "outbox" ("unique_key")',
    'CREATE INDEX IF NOT EXISTS "outbox_created_at" ON "outbox" ("created_at")',
    ('CREATE INDEX IF NOT EXISTS "outbox_status_next_attempt_at" ON "outbox" ("status", "next_attempt_at")'),
    (
        'CREATE TABLE IF NOT EXISTS "participant" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "address" VARCHAR(255) NOT NULL, '
        '"role" VARCHAR(255) NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "participant_ticket_id" ON "participant" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "participant_address" ON "participant" ("address")',
    (
        'CREATE UNIQUE INDEX IF NOT EXISTS "participant_ticket_id_kind_address" ON "participant" ("ticket_id", '
        '"kind", "address")'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "thread_key" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"key" VARCHAR(998) NOT NULL, "ticket_id" INTEGER NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "thread_key_key" ON "thread_key" ("key")',
    'CREATE INDEX IF NOT EXISTS "thread_key_ticket_id" ON "thread_key" ("ticket_id")',
    # ticket numbers on PostgreSQL (SQLite uses the counter table under its write lock)
    "CREATE SEQUENCE IF NOT EXISTS helpline_ticket_number",
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
