"""How long the pipeline's write transaction lasts for a message compared by meaning, with the sentence vectors
computed ahead in ``pipeline.prepare`` and without (``meaning_ahead`` switched off: embedding inside the
transaction, as before), alternated in one process on a SQLite file; and what the reads ahead cost a message
that needs no embedding (a new customer), meaning on against off.

    python -m tests.duplicates.bench_meaning_ahead [--messages 40] [--rounds 2]

Each measured message: a customer opens a ticket ("I cannot log in ..."), then writes about it in other words
(a merge suggestion by meaning); the second message's transaction is timed (``run_tx``'s function, wall time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from helpline.router.categories import embeddings
from helpline.store import db, migrations
from helpline.workers import pipeline
from helpline.workers.inbound import duplicates

from ..conftest import make_settings
from ..workers.builders import Desk, mail
from .test_duplicates import LOCKED, LOCKED_AGAIN


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--new-customers", type=int, default=400)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="helpline-bench-meaning-"))
    settings = make_settings(tmp, database_url=f"sqlite:///{tmp}/helpline.sqlite3")
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    migrations.upgrade()
    desk = Desk(settings)
    embeddings.get_embedder().embed(["warm up"])

    held: list[float] = []
    real_run_tx = pipeline.run_tx

    def timed_run_tx(fn: Callable[[], Any], **kw: Any) -> Any:
        def inner() -> Any:
            t0 = time.perf_counter()
            try:
                return fn()
            finally:
                held.append((time.perf_counter() - t0) * 1000)

        return real_run_tx(inner, **kw)

    pipeline.run_tx = timed_run_tx  # type: ignore[assignment]
    real_ahead = duplicates.meaning_ahead
    out: dict[str, Any] = {}
    for rnd in range(args.rounds):
        for mode in ("inside", "ahead"):
            duplicates.meaning_ahead = real_ahead if mode == "ahead" else (lambda *a, **k: None)  # type: ignore[assignment]
            tx_ms, total_ms = [], []
            for i in range(args.messages):
                sender = f"Customer <c.{mode}.{rnd}.{i}@example.net>"
                desk.receive(mail(sender=sender, subject="Login problem", body=LOCKED)[0])
                inbound_id = desk.deliver(mail(sender=sender, subject="Still locked out", body=LOCKED_AGAIN)[0])
                assert pipeline.begin_attempt(inbound_id, settings.max_attempts) is None
                held.clear()
                t0 = time.perf_counter()
                outcome = pipeline.process(inbound_id, settings)
                total_ms.append((time.perf_counter() - t0) * 1000)
                assert outcome.action == "created"
                tx_ms.append(held[-1])
            out[f"{mode}_round{rnd + 1}"] = {
                "write_tx_ms_p50": round(statistics.median(tx_ms), 2),
                "write_tx_ms_mean": round(statistics.mean(tx_ms), 2),
                "process_ms_p50": round(statistics.median(total_ms), 2),
            }
    duplicates.meaning_ahead = real_ahead  # type: ignore[assignment]
    prep: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(args.new_customers):
        for mode in ("on", "off"):
            s = settings.replace(duplicates_by_meaning=mode == "on")
            raw = mail(sender=f"New <n.{mode}.{i}@example.net>", subject="Login problem", body=LOCKED)[0]
            inbound_id = desk.deliver(raw)
            t0 = time.perf_counter()
            pre = pipeline.prepare(inbound_id, s)
            prep[mode].append((time.perf_counter() - t0) * 1000)
            assert pre is not None and pre.meaning is None
    out["prepare_new_customer_ms_p50"] = {f"meaning_{k}": round(statistics.median(v), 3) for k, v in prep.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
