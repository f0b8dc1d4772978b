"""Benchmark of near-duplicates and incident grouping at N open tickets (default 10,000), on SQLite and PostgreSQL.

    /work/venv/bin/python -m tests.duplicates.bench_similarity [--tickets 10000] [--queries 1000]
        [--round 50] [--pg postgresql://postgres@127.0.0.1:5432/test] [--json]

Texts: customer utterances of ../shared/data/bitext-support-intents (27 intents of an e-commerce desk),
two or three per ticket, so thousands of open tickets are about the same few topics: a dense, unkind case
for LSH (many candidates per lookup). All tickets are opened within the incident window, so every one is
a live candidate.

Figures:
- build: fingerprints of N texts (CPU) and their rows inserted;
- ``pipeline``: the per-message part, as the pipeline runs it: ``fingerprint`` (in ``prepare``, outside
  the write transaction) and the in-transaction part (``find_near`` for the customer and ``index_ticket``,
  one row), p50/p99 over --queries new messages, each in its own rolled-back transaction;
- ``grouper``: what the scheduler's incident grouper costs: loading the window of N tickets into its
  in-memory index (seconds, RSS growth of this process), then --queries new tickets grouped in rounds of
  --round, as ms per round and per ticket: the rate it keeps up with is 1000 / ms-per-ticket.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from helpline.router import similarity as sim
from helpline.store import config, db, fastsql, migrations
from helpline.store.tickets import similarity_state as state
from helpline.store.db import is_sqlite, write_tx
from helpline.store.models import utcnow
from helpline.workers.inbound import duplicates
from helpline.workers.jobs.incident_grouper import Grouper

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "bitext-support-intents"


def utterances() -> list[str]:
    out: list[str] = []
    for f in sorted(DATA.glob("*.csv")):
        with f.open(newline="", encoding="utf-8") as fh:
            out += [r["utterance"] for r in csv.DictReader(fh)]
    if not out:
        sys.exit(f"no utterances under {DATA}")
    return out


def texts(n: int, pool: list[str], rng: random.Random) -> list[str]:
    return [" ".join(rng.sample(pool, rng.choice((2, 3)))) for _ in range(n)]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def table_bytes() -> int:
    tables = ("ticket_fingerprint",)
    if is_sqlite():
        try:
            rows = fastsql.fetchall("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        except Exception:  # noqa: BLE001  (SQLite built without dbstat)
            return -1
        return int(sum(size for name, size in rows if name.startswith(tables)))
    return int(sum(fastsql.fetchone("SELECT pg_total_relation_size(?)", [t])[0] for t in tables))


def setup(n: int, settings: config.Settings, rng: random.Random, pool: list[str]) -> dict:
    now = utcnow()
    body = texts(n, pool, rng)
    t0 = time.perf_counter()
    fps = [sim.fingerprint(t) for t in body]
    cpu = time.perf_counter() - t0
    with write_tx():
        fastsql.insert_many("customer", [{"name": f"c{i}", "tier": "standard", "created_at": now} for i in range(n)])
        first = fastsql.fetchone('SELECT MIN(id) FROM "customer"')[0]
        for start in range(0, n, 500):
            fastsql.insert_many(
                "ticket",
                [
                    {
                        "number": f"HL-B-{i:06d}",
                        "subject": "bench",
                        "status": "open",
                        "priority": "medium",
                        "channel": "email",
                        "customer_id": first + i,
                        "support_address": "support@example.com",
                        "possible_follow_up": False,
                        "created_at": now,
                        "updated_at": now,
                        "last_customer_at": now,
                    }
                    for i in range(start, min(n, start + 500))
                ],
            )
    ids = [r[0] for r in fastsql.fetchall('SELECT id, customer_id FROM "ticket" ORDER BY id')]
    t1 = time.perf_counter()
    with write_tx():
        for i, (tid, fp) in enumerate(zip(ids, fps, strict=True)):
            if fp is not None:
                when = now - dt.timedelta(seconds=rng.uniform(0, settings.incident_window_s * 0.9))
                state.index_ticket(tid, first + i, fp.signature, fp.refs, when)
        fastsql.execute('UPDATE "ticket_fingerprint" SET grouped = 1')  # the window a running grouper has seen
    insert = time.perf_counter() - t1
    if not is_sqlite():  # what autovacuum does soon after a bulk load: the planner's statistics
        fastsql.execute('ANALYZE "ticket_fingerprint"')
        fastsql.execute('ANALYZE "ticket"')
    return {
        "tickets": n,
        "indexed": sum(fp is not None for fp in fps),
        "fingerprint_s": round(cpu, 2),
        "insert_s": round(insert, 2),
        "build_s": round(cpu + insert, 2),
        "customer0": first,
    }


class _Rollback(Exception):
    pass


def query(settings: config.Settings, q: int, rng: random.Random, pool: list[str], customer0: int, n: int) -> dict:
    fp_ms, tx_ms = [], []
    with write_tx():  # the stand-in new ticket each query indexes (and rolls back)
        ticket_id = fastsql.insert(
            "ticket",
            {
                "number": "HL-B-NEW",
                "subject": "bench",
                "status": "open",
                "priority": "medium",
                "channel": "email",
                "customer_id": customer0,
                "support_address": "support@example.com",
                "possible_follow_up": False,
                "created_at": utcnow(),
                "updated_at": utcnow(),
                "last_customer_at": utcnow(),
            },
        )
    for text in texts(q, pool, rng):
        t0 = time.perf_counter()
        fp = sim.fingerprint(text)
        t1 = time.perf_counter()
        if fp is None:
            continue
        fp_ms.append((t1 - t0) * 1000)
        customer = customer0 + rng.randrange(n)
        now = utcnow()
        try:
            with write_tx():
                t2 = time.perf_counter()
                duplicates.find_near(customer, fp, settings, now)
                state.index_ticket(ticket_id, customer, fp.signature, fp.refs, now)  # stand-in new ticket
                tx_ms.append((time.perf_counter() - t2) * 1000)
                raise _Rollback
        except _Rollback:
            pass
    with write_tx():
        fastsql.execute('DELETE FROM "ticket" WHERE id = ?', [ticket_id])
    return {
        "pipeline": {
            "queries": len(tx_ms),
            "fingerprint_ms": {"p50": round(pct(fp_ms, 50), 3), "p99": round(pct(fp_ms, 99), 3)},
            "in_transaction_ms": {"p50": round(pct(tx_ms, 50), 3), "p99": round(pct(tx_ms, 99), 3)},
        }
    }


def grouping(
    settings: config.Settings, q: int, per_round: int, rng: random.Random, pool: list[str], customer0: int, n: int
) -> dict:
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    grouper = Grouper(settings, holder="bench")
    t0 = time.perf_counter()
    grouper.run_round()  # takes the lease and loads the window: nothing new yet
    load_s = time.perf_counter() - t0
    rss_load = proc.memory_info().rss
    bodies = [t for t in texts(q, pool, rng)]
    round_ms, tickets = [], 0
    for start in range(0, len(bodies), per_round):
        now = utcnow()
        with write_tx():
            for i, text in enumerate(bodies[start : start + per_round]):
                fp = sim.fingerprint(text)
                if fp is None:
                    continue
                tid = fastsql.insert(
                    "ticket",
                    {
                        "number": f"HL-N-{start + i:06d}",
                        "subject": "bench",
                        "status": "open",
                        "priority": "medium",
                        "channel": "email",
                        "customer_id": customer0 + rng.randrange(n),
                        "support_address": "support@example.com",
                        "possible_follow_up": False,
                        "created_at": now,
                        "updated_at": now,
                        "last_customer_at": now,
                    },
                )
                state.index_ticket(tid, customer0 + rng.randrange(n), fp.signature, fp.refs, now)
        t1 = time.perf_counter()
        done = grouper.run_round()
        round_ms.append((time.perf_counter() - t1) * 1000)
        tickets += done.tickets
    total_ms = sum(round_ms)
    return {
        "grouper": {
            "window_tickets": len(grouper.index or ()),
            "load_s": round(load_s, 2),
            "index_rss_mb": round((rss_load - rss0) / 2**20, 1),
            "rounds": len(round_ms),
            "tickets_grouped": tickets,
            "round_ms": {"p50": round(pct(round_ms, 50), 2), "p99": round(pct(round_ms, 99), 2)},
            "ms_per_ticket": round(total_ms / max(1, tickets), 3),
            "keeps_up_with_per_s": round(1000 * tickets / max(total_ms, 1e-9)),
            "incidents": fastsql.fetchone('SELECT COUNT(*) FROM "incident"')[0],
        }
    }


def run(url: str, n: int, q: int, per_round: int, tmp: str) -> dict:
    settings = config.Settings(data_dir=tmp, database_url=url, support_addresses=("support@example.com",))
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    migrations.upgrade()
    rng, pool = random.Random(1), utterances()
    built = setup(n, settings, rng, pool)
    figures = {"database": "sqlite" if is_sqlite() else "postgresql", **built, "index_bytes": table_bytes()}
    customer0 = built.pop("customer0")
    figures.update(query(settings, q, rng, pool, customer0, n))
    figures.update(grouping(settings, q, per_round, rng, pool, customer0, n))
    figures.pop("customer0", None)
    db.database().close()
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--round", type=int, default=50, help="new tickets per grouper round")
    ap.add_argument("--pg", default=os.environ.get("HELPLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        results.append(run(f"sqlite:///{tmp}/bench.sqlite3", args.tickets, args.queries, args.round, tmp))
        if not args.no_pg:
            import psycopg2

            name = "helpline_bench_" + uuid.uuid4().hex[:8]
            admin = psycopg2.connect(args.pg)
            admin.autocommit = True
            admin.cursor().execute(f'CREATE DATABASE "{name}"')
            try:
                results.append(run(args.pg.rsplit("/", 1)[0] + "/" + name, args.tickets, args.queries, args.round, tmp))
            finally:
                admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
                admin.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(" ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
