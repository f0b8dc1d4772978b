"""Throughput and latency of Twilio's inbound-message webhook through the real processes.

    cd /work/main && python -m tests.sms.bench_sms --messages 2000 --concurrency 16 --db sqlite
    cd /work/main && python -m tests.sms.bench_sms --messages 2000 --concurrency 16 --db postgres

Starts ``helpline ingest`` and ``helpline worker`` (Redis on 127.0.0.1:6379/9,
a queue namespace of its own) with a local Twilio API stand-in, posts
Twilio-signed form webhooks from C client threads, and reports the answer
latency (200 with empty TwiML), the accept rate, the time until every text is
a ticket message (end to end, from the inbound row's received_at to its
processed_at), and the acknowledgements that reached the Twilio API. Half the
texts continue a conversation started by the other half (the same number), so
threading is exercised too. Timing claims live here, not in test assertions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import requests

from helpline.store import db, migrations
from helpline.store import models as m
from helpline.store.config import Settings
from tests.support.bench_db import bench_main, pct
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, FakeTwilio, inbound_form, sign
from tests.support.stack import Stack, wait_until


def main() -> None:
    bench_main("helpline-sms-bench-", run)


def run(args: argparse.Namespace, work: Path, url: str) -> None:
    fake = FakeTwilio().start()
    settings = Settings(
        data_dir=str(work / "data"),
        database_url=url,
        broker_url="redis://127.0.0.1:6379/9",
        queue_name="helpline-sms-bench-" + uuid.uuid4().hex[:6],
        support_addresses=("support@example.com",),
        secret_key=("bench-key",),
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=OUR_NUMBER,
        twilio_api_url=fake.url,
        public_url=PUBLIC_URL,
        autoreply_global_limit=10**9,
        sweep_interval_s=5.0,
    )
    db.init(url)
    migrations.upgrade()
    stack = Stack(settings, work)
    stack.start_ingest().start_worker(processes=args.workers, threads=args.threads)
    base = f"http://{stack.settings.http_listen}/twilio/sms"
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(args.messages))

    def post(session: requests.Session, form: dict[str, str]) -> requests.Response:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", form),
        }
        return session.post(base, data=urlencode(form).encode(), headers=headers, timeout=60)

    def client() -> None:
        session = requests.Session()
        for i in counter:
            form = inbound_form(
                f"Message {i}: my order {4700 + i} has not arrived.", sender=f"+1415555{(i // 2) % 10000:04d}"
            )
            started = time.perf_counter()
            answer = post(session, form)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                codes[answer.status_code] = codes.get(answer.status_code, 0) + 1

    try:
        post(requests.Session(), inbound_form("warm-up", sender="+14155559999"))  # one text through every layer
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
            "every text processed",
        )
        done_s = time.perf_counter() - started
        rows = list(m.Inbound.select(m.Inbound.received_at, m.Inbound.processed_at).order_by(m.Inbound.id))[1:]
        e2e = [(r.processed_at - r.received_at).total_seconds() for r in rows if r.processed_at]
        tickets = m.Ticket.select().count() - 1
        wait_until(lambda: len(fake.created) >= tickets + 1, 120, 0.2, "every acknowledgement at the Twilio API")
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
            "tickets": tickets,
            "acknowledgements_sent": len(fake.created) - 1,
            "end_to_end_rate_per_s": round(args.messages / done_s, 1),
            "end_to_end_s": {"p50": round(statistics.median(e2e), 3), "p99": round(pct(e2e, 99), 3)},
            "lost": args.messages + 1 - m.Inbound.select().count(),
        }
        print(json.dumps(report, indent=2))
    finally:
        stack.stop()
        fake.stop()
        db.database().close()


if __name__ == "__main__":
    main()
