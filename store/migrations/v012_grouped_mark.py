"""Migration 12: incident grouping leaves the pipeline.

Fingerprints carry a ``grouped`` mark that the grouper sets (a partial index finds the few unmarked ones);
the band-key rows are no longer written, so their table goes.
Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import columns

NAME = "incident grouping off the pipeline: grouped mark, band rows dropped"


def upgrade(db: pw.Database) -> None:
    if "grouped" not in columns(db, "ticket_fingerprint"):
        db.execute_sql('ALTER TABLE "ticket_fingerprint" ADD COLUMN "grouped" INTEGER NOT NULL DEFAULT 1')
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "ticket_fingerprint_ungrouped" ON "ticket_fingerprint" ("ticket_id") '
        "WHERE grouped = 0"
    )
    db.execute_sql('DROP TABLE IF EXISTS "ticket_band"')
