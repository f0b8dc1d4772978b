"""Migration 24: each attachment's virus scan (HELPLINE_CLAMD_SOCKET): its verdict, the signature, when.

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

NAME = "attachments' virus scan verdicts"


def upgrade(db: pw.Database) -> None:
    """Migration 24: ``attachment.scan_status`` ("" not scanned, clean, infected, unscannable),
    ``scan_detail`` (the signature, or why) and ``scanned_at``. Plain ``ALTER TABLE … ADD COLUMN`` with a
    database default on both engines (no table rebuild on SQLite)."""
    sqlite = isinstance(db, pw.SqliteDatabase)
    wanted = [
        ("scan_status", "VARCHAR(16) NOT NULL DEFAULT ''"),
        ("scan_detail", "VARCHAR(255) NOT NULL DEFAULT ''"),
        ("scanned_at", "DATETIME" if sqlite else "TIMESTAMP"),
    ]
    have = {c.name for c in db.get_columns("attachment")}
    for column, ddl in wanted:
        if column not in have:
            db.execute_sql(f'ALTER TABLE "attachment" ADD COLUMN "{column}" {ddl}')
