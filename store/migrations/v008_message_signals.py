"""Migration 8: message language and sentiment, and the repeated-contact index.

- ``message.language``: ISO 639-1 code of the customer's text, NULL when undetermined;
- ``message.sentiment``: VADER compound score (-1..1), NULL when not scored;
- index ``(sender, created_at)``: "how many messages did this customer send in the last hour" is a
  short range scan per address.

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import add_columns

NAME = "message language and sentiment, repeated-contact index"


def upgrade(db: pw.Database) -> None:
    add_columns(
        db, "message", {"language": pw.CharField(max_length=16, null=True), "sentiment": pw.FloatField(null=True)}
    )
    db.execute_sql('CREATE INDEX IF NOT EXISTS "message_sender_created_at" ON "message" ("sender", "created_at")')
