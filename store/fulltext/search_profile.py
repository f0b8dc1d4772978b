"""Where one search spends its time: each statement it runs, timed, and the plan of the slowest.

For ``helpline bench --search --search-explain N``: the plans of the slowest
queries are what tells a slow index scan from a planner's bad guess, and they
must come from the statements the search really ran (the window's plan depends
on the words), so the statements are captured while the search runs, then the
slowest is run again under ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL, with
the search's own settings) or ``EXPLAIN QUERY PLAN`` (SQLite).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from helpline.store import fastsql as sql
from helpline.store.db import is_sqlite

# the SET LOCAL of search._ticket_rows, so that the plan is the one the search got
_PG_SETTINGS = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off; SET LOCAL cpu_operator_cost = 0.025"


def statements(run: Callable[[], Any]) -> list[tuple[float, str, list[Any]]]:
    """(ms, statement, parameters) of every statement ``run`` executes, in order (inside the caller's
    transaction; ``fastsql.execute`` is wrapped for the call only)."""
    seen: list[tuple[float, str, list[Any]]] = []
    real = sql.execute

    def timed(statement: str, params: Any = ()) -> Any:
        t0 = time.perf_counter()
        try:
            return real(statement, params)
        finally:
            seen.append(((time.perf_counter() - t0) * 1000, statement, list(params)))

    sql.execute = timed  # type: ignore[assignment]
    try:
        run()
    finally:
        sql.execute = real
    return seen


def explain(statement: str, params: list[Any]) -> list[str]:
    """The plan of one captured statement, one line a row."""
    if is_sqlite():
        rows = sql.fetchall("EXPLAIN QUERY PLAN " + statement, params)
        return [" | ".join(str(c) for c in r) for r in rows]
    sql.execute(_PG_SETTINGS)
    return [str(r[0]) for r in sql.fetchall("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)]


def slowest_plan(run: Callable[[], Any], skip: tuple[str, ...] = ("SET ", "EXPLAIN ")) -> dict[str, Any]:
    """Run a search once more, and explain its slowest statement: {total_ms, statements: [[ms, first 160
    characters]], slowest, plan}."""
    t0 = time.perf_counter()
    seen = [s for s in statements(run) if not s[1].lstrip().upper().startswith(skip)]
    total = (time.perf_counter() - t0) * 1000
    if not seen:
        return {"total_ms": round(total, 1), "statements": [], "slowest": "", "plan": []}
    ms, statement, params = max(seen, key=lambda s: s[0])
    return {
        "total_ms": round(total, 1),
        "statements": [[round(m, 1), s[:160]] for m, s, _ in sorted(seen, key=lambda s: -s[0])[:4]],
        "slowest": statement,
        "plan": explain(statement, params),
    }
