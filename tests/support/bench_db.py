"""What the benchmarks under tests/ share: a scratch database and percentiles.

Timing claims live in these benchmarks, not in test assertions."""

from __future__ import annotations

import argparse
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import psycopg2

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; 0.0 when there are none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def _admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


@contextmanager
def scratch_database(kind: str, work: Path) -> Iterator[str]:
    """The URL of an empty database for one run: SQLite in ``work``, or a PostgreSQL
    database on the test server that is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{work}/helpline.sqlite3"
        return
    name = "helpline_bench_" + uuid.uuid4().hex[:8]
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_main(prefix: str, run: Callable[[argparse.Namespace, Path, str], None]) -> None:
    """The channel benches' command line: size, concurrency, database, workers; a scratch database for the run."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    with scratch_database(args.db, work) as url:
        run(args, work, url)
