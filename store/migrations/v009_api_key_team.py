"""Migration 9: ticket API keys bound to a team (``api_key.team``).

A database made by migration 5 after the model grew the column has it already.
Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import add_columns

NAME = "ticket api: api keys bound to a team"


def upgrade(db: pw.Database) -> None:
    add_columns(db, "api_key", {"team": pw.CharField(max_length=64, null=True)})
