"""Migration 16: agents' roles, teams' second-line restriction, API keys bound to an agent.

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

NAME = "agents' roles, teams' second-line restriction, API keys bound to an agent"


def upgrade(db: pw.Database) -> None:
    """Migration 16: agents' roles, teams' second-line restriction, API keys bound to an agent.

    Plain ``ALTER TABLE … ADD COLUMN`` with a database default, on both engines: peewee's SQLite
    migrator adds a NOT NULL column by rebuilding the table, and rebuilding ``team`` deleted its
    ``team_member`` rows through their ON DELETE CASCADE (the upgrade test from release 13 caught it).
    A table made by an earlier migration after its model grew these columns has them already."""
    sqlite = isinstance(db, pw.SqliteDatabase)
    wanted = [
        ("agent", "role", "VARCHAR(16) NOT NULL DEFAULT ''"),
        (
            "team",
            "restrict_second_line",
            ("INTEGER" if sqlite else "BOOLEAN") + " NOT NULL DEFAULT " + ("0" if sqlite else "FALSE"),
        ),
        ("api_key", "agent", "VARCHAR(254)"),
    ]
    for table, column, ddl in wanted:
        if column not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {ddl}')
