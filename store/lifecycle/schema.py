"""Migration 17: legal holds, the erasure ledger and its salt, and provider clean-up tasks.

- ``legal_hold``: one row per customer whose data must be kept (litigation,
  an authority's request); erasure and retention skip them.
- ``lifecycle_secret``: the salt of the ledger's hashes, made once by this
  migration, so it travels inside every backup taken afterwards.
- ``erasure_ledger``: the salted SHA-256 of each erased identity. A restore
  from an older backup hashes every identity it brings back and erases the
  customers that match, so an erasure is never undone by a restore.
- ``erasure_task``: what must still be done at a provider after the database
  part of an erasure (a Slack post to overwrite, a Twilio message or media to
  delete). The targets are provider ids, not personal data; a task that
  failed is retried by running the erasure again.

The DDL is frozen here, per engine, never derived from the live models.
"""
from __future__ import annotations

import secrets

import peewee as pw

from ..models import Base, utcnow


class LegalHold(Base):
    customer_id = pw.IntegerField(primary_key=True)
    actor = pw.CharField(default="")
    reason = pw.TextField(default="")
    set_at = pw.DateTimeField(default=utcnow)


class LifecycleSecret(Base):
    name = pw.CharField(max_length=64, primary_key=True)
    value = pw.TextField()


class ErasureLedger(Base):
    hash = pw.CharField(max_length=64, primary_key=True)
    erased_at = pw.DateTimeField(default=utcnow)


class ErasureTask(Base):
    customer_id = pw.IntegerField(index=True)
    kind = pw.CharField(max_length=40)  # slack_update, twilio_message, twilio_media
    target = pw.TextField()  # channel:ts, or the Twilio Message SID (and /Media SID)
    status = pw.CharField(max_length=16, default="pending")  # pending, done, failed
    attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    done_at = pw.DateTimeField(null=True)


MODELS: list[type[Base]] = [LegalHold, LifecycleSecret, ErasureLedger, ErasureTask]


def upgrade_v17(db: pw.Database) -> None:
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
    db.execute_sql('INSERT INTO "lifecycle_secret" ("name", "value") VALUES (%s, %s) ON CONFLICT DO NOTHING'
                   .replace("%s", "?" if sqlite else "%s"), ("ledger_salt", secrets.token_hex(32)))
