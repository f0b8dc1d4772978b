"""Migration 11: fingerprints and band keys of tickets, merges, incidents.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import is_sqlite

NAME = "ticket fingerprints and band keys, merges, incidents"


def upgrade(db: pw.Database) -> None:
    blob = "BLOB" if is_sqlite(db) else "BYTEA"
    ident = "INTEGER PRIMARY KEY AUTOINCREMENT" if is_sqlite(db) else "SERIAL PRIMARY KEY"
    ts = "DATETIME" if is_sqlite(db) else "TIMESTAMP"
    for stmt in (
        f'CREATE TABLE IF NOT EXISTS "ticket_fingerprint" ("ticket_id" INTEGER PRIMARY KEY REFERENCES "ticket" ("id") '
        f'ON DELETE CASCADE, "customer_id" INTEGER NOT NULL, "signature" {blob} NOT NULL, "refs" TEXT NOT NULL, '
        f'"created_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "ticket_fingerprint_customer" ON "ticket_fingerprint" ("customer_id", "created_at")',
        f'CREATE TABLE IF NOT EXISTS "ticket_band" ("band" BIGINT NOT NULL, "ticket_id" INTEGER NOT NULL '
        f'REFERENCES "ticket" ("id") ON DELETE CASCADE, "created_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "ticket_band_band_created" ON "ticket_band" ("band", "created_at")',
        'CREATE INDEX IF NOT EXISTS "ticket_band_ticket" ON "ticket_band" ("ticket_id")',
        f'CREATE TABLE IF NOT EXISTS "ticket_merge" ("id" {ident}, "source_id" INTEGER NOT NULL REFERENCES "ticket" ("id") '
        f'ON DELETE CASCADE, "target_id" INTEGER NOT NULL REFERENCES "ticket" ("id") ON DELETE CASCADE, '
        f'"actor" TEXT NOT NULL, "reason" TEXT NOT NULL, "previous_status" TEXT NOT NULL, "moved" TEXT NOT NULL, '
        f'"merged_at" {ts} NOT NULL, "split_at" {ts}, "split_by" TEXT)',
        'CREATE INDEX IF NOT EXISTS "ticket_merge_source" ON "ticket_merge" ("source_id")',
        'CREATE INDEX IF NOT EXISTS "ticket_merge_target" ON "ticket_merge" ("target_id")',
        f'CREATE TABLE IF NOT EXISTS "incident" ("id" {ident}, "title" TEXT NOT NULL, "status" TEXT NOT NULL, '
        f'"created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL, "resolved_at" {ts})',
        'CREATE INDEX IF NOT EXISTS "incident_status" ON "incident" ("status", "created_at")',
        f'CREATE TABLE IF NOT EXISTS "incident_ticket" ("id" {ident}, "incident_id" INTEGER NOT NULL '
        f'REFERENCES "incident" ("id") ON DELETE CASCADE, "ticket_id" INTEGER NOT NULL UNIQUE '
        f'REFERENCES "ticket" ("id") ON DELETE CASCADE, "similarity" REAL NOT NULL, "added_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "incident_ticket_incident" ON "incident_ticket" ("incident_id")',
    ):
        db.execute_sql(stmt)
