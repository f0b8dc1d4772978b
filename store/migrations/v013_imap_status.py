"""Migration 13: when a mailbox last polled well and last failed (``helpline imap status``).

A database whose table was made by migration 3 after the model grew these columns has them already.
Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import add_columns

NAME = "imap status: last success and last error times"


def upgrade(db: pw.Database) -> None:
    add_columns(
        db,
        "imap_folder_state",
        {"last_error_at": pw.DateTimeField(null=True), "last_success_at": pw.DateTimeField(null=True)},
    )
