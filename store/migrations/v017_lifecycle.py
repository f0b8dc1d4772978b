"""Migration 17: legal holds, the erasure ledger and its salt, provider clean-up tasks.

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import secrets

import peewee as pw

NAME = "data lifecycle: legal holds, erasure ledger, provider clean-up tasks"


def upgrade(db: pw.Database) -> None:
    """Migration 17: legal holds, the erasure ledger and its salt, provider clean-up tasks."""
    sqlite = isinstance(db, pw.SqliteDatabase)
    ident = "INTEGER PRIMARY KEY AUTOINCREMENT" if sqlite else "SERIAL PRIMARY KEY"
    ts = "DATETIME" if sqlite else "TIMESTAMP"
    for stmt in (
        f'CREATE TABLE IF NOT EXISTS "legal_hold" ("customer_id" INTEGER PRIMARY KEY, "actor" VARCHAR(255) NOT NULL, '
        f'"reason" TEXT NOT NULL, "set_at" {ts} NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "lifecycle_secret" ("name" VARCHAR(64) PRIMARY KEY, "value" TEXT NOT NULL)',
        f'CREATE TABLE IF NOT EXISTS "erasure_ledger" ("hash" VARCHAR(64) PRIMARY KEY, "erased_at" {ts} NOT NULL)',
        f'CREATE TABLE IF NOT EXISTS "erasure_task" ("id" {ident}, "customer_id" INTEGER NOT NULL, '
        f'"kind" VARCHAR(40) NOT NULL, "target" TEXT NOT NULL, "status" VARCHAR(16) NOT NULL, '
        f'"attempts" INTEGER NOT NULL, "last_error" TEXT NOT NULL, "created_at" {ts} NOT NULL, "done_at" {ts})',
        'CREATE INDEX IF NOT EXISTS "erasure_task_customer_id" ON "erasure_task" ("customer_id")',
    ):
        db.execute_sql(stmt)
    db.execute_sql(
        'INSERT INTO "lifecycle_secret" ("name", "value") VALUES (%s, %s) ON CONFLICT DO NOTHING'.replace(
            "%s", "?" if sqlite else "%s"
        ),
        ("ledger_salt", secrets.token_hex(32)),
    )
