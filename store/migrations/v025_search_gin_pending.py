"""Migration 25: a short pending list for the full-text GIN indexes (PostgreSQL).

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

NAME = "short GIN pending lists for search"

# kB. GIN's fast update queues new entries in a pending list that every search reads in full until a
# VACUUM (or an insert past the limit) merges it into the index. At the default 4 MB, with autovacuum off
# or behind, each of the two vectors' scans read ~300 pending pages (5-7 ms per scan, measured at 200,000
# messages); at 256 kB the scan is bounded to ~32 pages, and the merge work per message is about the same
# (it is done in smaller, more frequent batches by the insert that crosses the limit).
PENDING_KB = 256
INDEXES = (
    "message_search_simple",
    "message_search_lang",
    "ticket_search_simple",
    "ticket_search_lang",
    "search_article_simple",
    "search_article_lang",
)


def upgrade(db: pw.Database) -> None:
    """PostgreSQL only (SQLite's FTS5 has no pending list): set the limit and merge what is pending now."""
    if isinstance(db, pw.SqliteDatabase):
        return
    for name in INDEXES:
        db.execute_sql(f'ALTER INDEX IF EXISTS "{name}" SET (gin_pending_list_limit = {PENDING_KB})')
        db.execute_sql(f"SELECT gin_clean_pending_list(c.oid) FROM pg_class c WHERE c.relname = '{name}'")
