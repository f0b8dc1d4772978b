"""Migration 20: when a message's personal data was redacted at rest (HELPLINE_PII_AT_REST=redact).

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

NAME = "messages' personal data redacted at rest (when)"


def upgrade(db: pw.Database) -> None:
    """Migration 20: ``message.pii_redacted_at`` (when ``HELPLINE_PII_AT_REST=redact`` redacted it)."""
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

    if "pii_redacted_at" in {c.name for c in db.get_columns("message")}:
        return
    migrator = SqliteMigrator(db) if isinstance(db, pw.SqliteDatabase) else PostgresqlMigrator(db)
    migrate(migrator.add_column("message", "pii_redacted_at", pw.DateTimeField(null=True)))
