"""The bench's --search-explain: the statements one search runs are captured, the slowest is explained on
either engine, and the statement runner is left as it was."""

from __future__ import annotations

from helpline.store import fastsql
from helpline.store.db import is_sqlite, run_tx
from helpline.store.fulltext import search, search_profile
from helpline.store.fulltext.search_syntax import parse

from .test_search_index import _ticket, desk  # noqa: F401 - desk is a fixture


def test_slowest_plan_of_a_search(desk):  # noqa: F811
    _ticket(desk, "Refund for invoice 4411", "Hello, I was charged twice. Please refund me.\n")
    real = fastsql.execute
    got = run_tx(
        lambda: search_profile.slowest_plan(lambda: search.search(parse("refund status:new"), limit=20)),
        durable=False,
    )
    assert fastsql.execute is real
    assert got["statements"] and got["slowest"] and got["plan"]
    assert not got["slowest"].startswith(("SET ", "EXPLAIN "))
    if not is_sqlite():
        assert any("Execution Time" in line for line in got["plan"])  # ANALYZE: the plan was run


def test_gin_indexes_keep_a_short_pending_list(desk):  # noqa: F811
    """Migration 25: every search reads a GIN index's whole pending list, so it is kept short (PostgreSQL)."""
    versions = run_tx(lambda: [r[0] for r in fastsql.fetchall('SELECT version FROM "schema_version"')], durable=False)
    assert 25 in versions  # applied on both engines (a no-op on SQLite: FTS5 has no pending list)
    if is_sqlite():
        return
    rows = run_tx(
        lambda: fastsql.fetchall(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN "
            "('message_search_simple', 'message_search_lang', 'ticket_search_simple', 'ticket_search_lang')"
        ),
        durable=False,
    )
    assert len(rows) == 4 and all("gin_pending_list_limit=256" in (opts or []) for _, opts in rows), rows
