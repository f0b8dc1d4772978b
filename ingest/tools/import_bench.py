"""``helpline bench --import FILE``: the history import's rate and cost on a fresh database.

Imports an mbox (make one with ``python tests/import/make_mbox.py OUT.mbox --messages 20000``) into
a new database (SQLite in a temporary folder, or a new PostgreSQL database made next to
``--import-database`` and dropped afterwards) and prints messages per second, CPU seconds per message
(this process and the parser pool, which is less sensitive than the rate to other load on the machine)
and, with ``--import-count-sql``, the SQL statements the writer issued per message. Wall-clock rates
on a shared machine are only comparable back to back; CPU per message is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import uuid


class _CpuOfTree:
    """CPU seconds of this process and its descendants (the pool's parsers run under a forkserver,
    whose children this process never reaps, so ``os.times()`` would miss them): sampled every
    0.1 s and at the end, keeping the last reading of each process."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        import psutil

        for p in [self._me, *self._me.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self.seen[p.pid] = t.user + t.system

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            self.sample()

    def start(self) -> _CpuOfTree:
        self.sample()
        self.base = sum(self.seen.values())
        self.base_mine = self.seen[self._me.pid]
        self._thread.start()
        return self

    def total(self) -> tuple[float, float]:
        """(this process's CPU seconds, its descendants'), since ``start``."""
        self.stop.set()
        self._thread.join()
        self.sample()
        mine = self.seen[self._me.pid] - self.base_mine
        return mine, sum(self.seen.values()) - self.base - mine


def main(args: argparse.Namespace) -> int:
    from helpline.ingest.importer import run
    from helpline.store import config, db, migrations
    from helpline.store.fulltext import search_bench_data as data

    source = args.import_mbox
    if not os.path.isfile(source):
        raise SystemExit(f"--import: {source} is not a file; make one with tests/import/make_mbox.py")
    tmp = tempfile.mkdtemp(prefix="helpline-import-bench-")
    url, pg_name = f"sqlite:///{tmp}/bench.sqlite3", None
    if args.import_database:
        pg_name = "helpline_import_bench_" + uuid.uuid4().hex[:8]
        data.ensure_database(args.import_database, pg_name)
        url = args.import_database.rsplit("/", 1)[0] + "/" + pg_name
    try:
        settings = config.load(
            {
                "HELPLINE_DATA_DIR": tmp,
                "HELPLINE_DATABASE_URL": url,
                "HELPLINE_SUPPORT_ADDRESSES": "support@helpline.example",
                "HELPLINE_LOG_LEVEL": "WARNING",
            }
        )
        db.init(url, 30000)
        migrations.upgrade()
        counter = db.count_statements() if args.import_count_sql else None
        cpu = _CpuOfTree().start()
        t0 = time.perf_counter()
        if args.import_profile:
            import cProfile

            prof = cProfile.Profile()
            report = prof.runcall(
                run.run_import, "mbox", source, settings, batch_size=args.import_batch_size, jobs=args.import_jobs
            )
            prof.dump_stats(args.import_profile)
        else:
            report = run.run_import("mbox", source, settings, batch_size=args.import_batch_size, jobs=args.import_jobs)
        wall = time.perf_counter() - t0
        cpu_writer, cpu_pool = cpu.total()
        cpu_s = cpu_writer + cpu_pool
        n = max(1, report.read)
        result = {
            "engine": "postgresql" if pg_name else "sqlite",
            "messages": report.read,
            "actions": dict(sorted(report.actions.items())),
            "resolved": report.resolved,
            "seconds": round(wall, 2),
            "messages_per_s": round(report.read / wall, 1),
            "cpu_s": round(cpu_s, 2),
            "cpu_ms_per_message": round(cpu_s * 1000 / n, 3),
            "writer_cpu_ms_per_message": round(cpu_writer * 1000 / n, 3),  # this process: reading, writing
            "parser_cpu_ms_per_message": round(cpu_pool * 1000 / n, 3),  # the pool: parsing, classifying
            # The writer's idle share once the pool is up: waiting for parsed chunks (start-up shown apart).
            "writer_idle_pct": round(100 * report.writer_waited / max(1e-9, wall - report.first_chunk), 1),
            "pool_startup_s": round(report.first_chunk, 2),
            "batch_size": args.import_batch_size,
            "cores": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        if counter is not None:
            result["sql_statements_per_message"] = round(counter["statements"] / n, 2)
        print(json.dumps(result, indent=None if args.json else 2))
    finally:
        db.database().close()
        if pg_name:
            data.drop_database(args.import_database, pg_name)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument(
        "--import",
        dest="import_mbox",
        metavar="MBOX",
        help="measure `helpline import` of this mbox into a fresh database instead (tests/import/make_mbox.py)",
    )
    b.add_argument(
        "--import-database",
        metavar="URL",
        help="--import: a PostgreSQL URL (a new database is made next to it and dropped); default: SQLite",
    )
    b.add_argument("--import-batch-size", type=int, default=200, help="--import: messages per write transaction")
    b.add_argument("--import-jobs", type=int, default=None, help="--import: parser processes (default: one per core)")
    b.add_argument("--import-count-sql", action="store_true", help="--import: count SQL statements per message")
    b.add_argument("--import-profile", metavar="OUT", help="--import: write a cProfile of the writer to OUT")
