"""Throughput and latency of POST /api/v1/messages through the real processes.

    cd /work/main && python -m tests.webhook.bench_webhook --messages 2000 --concurrency 16 --db sqlite
    cd /work/main && python -m tests.webhook.bench_webhook --messages 2000 --concurrency 16 --db postgres

Starts ``helpline ingest`` and ``helpline worker`` (Redis on 127.0.0.1:6379/9,
a queue namespace of its own), posts signed JSON messages with an
Idempotency-Key each from C client threads, and reports the 202 latency, the
accept rate, and the time until every message is a ticket (end to end, from the
inbound row's received_at to its processed_at). Half the messages continue a
conversation started by the other half, so threading is exercised too.
Timing claims live here, not in test assertions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from pathlib import Path

import requests

from helpline.store import db, migrations
from helpline.store import models as m
from helpline.store.config import Settings
from tests.support.bench_db import bench_main, pct
from tests.support.stack import Stack, wait_until

from .support import SOURCES, encode, signed_headers


def main() -> None:
    bench_main("helpline-hook-bench-", run)


def run(args: argparse.Namespace, work: Path, url: str) -> None:
    settings = Settings(
        data_dir=str(work / "data"),
        database_url=url,
        broker_url="redis://127.0.0.1:6379/9",
        queue_name="helpline-hook-bench-" + uuid.uuid4().hex[:6],
        support_addresses=("support@example.com",),
        secret_key=("bench-key",),
        webhook_sources=SOURCES,
        webhook_rate_per_minute=0,
        sweep_interval_s=5.0,
    )
    db.init(url)
    migrations.upgrade()
    stack = Stack(settings, work)
    stack.start_ingest().start_worker(processes=args.workers, threads=args.threads)
    base = f"http://{stack.settings.http_listen}/api/v1/messages"
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(args.messages))

    def client() -> None:
        session = requests.Session()
        for i in counter:
            conv = f"c{i // 2}"
            body = {
                "customer": {"external_id": f"user-{i // 2}", "name": "Bench User"},
                "subject": f"Question {i // 2}",
                "text": f"Message {i} about order {4700 + i}.",
                "conversation_id": conv,
                "metadata": {"order": str(4700 + i)},
            }
            raw = encode(body)
            started = time.perf_counter()
            answer = session.post(base, data=raw, headers=signed_headers(raw, idempotency_key=f"m{i}"), timeout=60)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                codes[answer.status_code] = codes.get(answer.status_code, 0) + 1

    try:
        # warm up: one request through every layer
        raw = encode({"customer": {"email": "warm@example.org"}, "text": "warm-up"})
        requests.post(base, data=raw, headers=signed_headers(raw), timeout=60)
        wait_until(lambda: m.Inbound.select().where(m.Inbound.status == "processed").count() == 1, 60)
        started = time.perf_counter()
        pool = [threading.Thread(target=client) for _ in range(args.concurrency)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        accepted_s = time.perf_counter() - started
        wait_until(
            lambda: m.Inbound.select().where(m.Inbound.status != "pending").count() == args.messages + 1,
            600,
            0.2,
            "every message processed",
        )
        done_s = time.perf_counter() - started
        rows = list(
            m.Inbound.select(m.Inbound.received_at, m.Inbound.processed_at, m.Inbound.status)
            .where(m.Inbound.external_id != "")
            .order_by(m.Inbound.id)
        )[1:]
        e2e = [(r.processed_at - r.received_at).total_seconds() for r in rows if r.processed_at]
        report = {
            "db": args.db,
            "messages": args.messages,
            "concurrency": args.concurrency,
            "workers": f"{args.workers}x{args.threads}",
            "answers": codes,
            "accept_rate_per_s": round(args.messages / accepted_s, 1),
            "answer_ms": {
                "p50": round(pct(latencies, 50) * 1000, 1),
                "p95": round(pct(latencies, 95) * 1000, 1),
                "p99": round(pct(latencies, 99) * 1000, 1),
            },
            "tickets": m.Ticket.select().count() - 1,
            "end_to_end_rate_per_s": round(args.messages / done_s, 1),
            "end_to_end_s": {"p50": round(statistics.median(e2e), 3), "p99": round(pct(e2e, 99), 3)},
            "lost": args.messages + 1 - m.Inbound.select().count(),
        }
        print(json.dumps(report, indent=2))
    finally:
        stack.stop()
        db.database().close()


if __name__ == "__main__":
    main()
