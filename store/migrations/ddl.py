"""What the frozen migration files share: run a statement list per engine, add a column once."""

from __future__ import annotations

from typing import Sequence

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate


def is_sqlite(db: pw.Database) -> bool:
    return isinstance(db, pw.SqliteDatabase)


def run(db: pw.Database, sqlite: Sequence[str], postgres: Sequence[str]) -> None:
    """Execute the statements written for ``db``'s engine, in order."""
    for stmt in sqlite if is_sqlite(db) else postgres:
        db.execute_sql(stmt)


def columns(db: pw.Database, table: str) -> set[str]:
    return {c.name for c in db.get_columns(table)}


def add_columns(db: pw.Database, table: str, fields: dict[str, pw.Field]) -> None:
    """Add each column the table lacks (a table made after a model grew the column has it already)."""
    have = columns(db, table)
    migrator: SchemaMigrator = SqliteMigrator(db) if is_sqlite(db) else PostgresqlMigrator(db)
    steps = [migrator.add_column(table, name, field) for name, field in fields.items() if name not in have]
    if steps:
        migrate(*steps)
