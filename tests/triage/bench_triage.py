"""Per-stage cost of the triage stages, per message, on one core; and the memory they add to a worker.

    cd /work/main && python -m tests.triage.bench_triage                 # SQLite
    cd /work/main && python -m tests.triage.bench_triage --db postgres   # PostgreSQL (127.0.0.1, trust)

Stages timed one message at a time, p50/p99/mean over ``--messages`` calls:

- ``language_low`` / ``language_high``: ``router.language.detect`` (lingua low/high accuracy) on
  short texts (a line) and on mail bodies (several sentences, as ``helpline bench`` sends);
- ``sentiment``: ``router.sentiment.score`` (VADER) on the same texts;
- ``signals``: ``workers.triage.signals``, the whole lock-free part run in ``pipeline.prepare``;
- ``priority_rules``: ``router.priority.evaluate`` with the built-in rules (pure);
- ``customer_facts`` / ``ticket_facts``: the one statement each that reads the tier and the
  repeated-contact count (new ticket / message added to a ticket), on a database holding
  ``--history`` messages from ``--customers`` customers, inside a transaction as in the pipeline.

Memory: RSS of a fresh process that imported the worker pipeline, then after the first detection in
every configured language (low, then high accuracy, each in its own process), and after VADER.
Timing claims live here and in ``helpline bench``, not in test assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Callable

LANGS = ("en", "de", "fr", "es", "it", "nl", "pt")
SHORT = [
    "My order has not arrived yet",
    "Meine Bestellung ist noch nicht da",
    "Ma commande n'est pas arrivée",
    "Mi pedido todavía no ha llegado",
    "Il mio ordine non è ancora arrivato",
    "Ik kan niet inloggen",
    "Não consigo entrar na minha conta",
    "Any update?",
    "Thanks, that fixed it!",
    "Where is my refund?",
]
MAIL = [
    "I ordered something 12 days ago and the tracking page still says 'label created'. Could you tell me where "
    "my parcel is? The order number is 4711. Thanks, Alice",
    "since this morning I cannot log in: the page says my password is wrong, but the reset mail never arrives. "
    "I tried 3 times. Please help, I need to download an invoice.",
    "please refund invoice 4711; I was charged twice for the same month. This is the second time this happens "
    "and frankly I am getting tired of it.",
    "Seit heute Morgen kann ich mich nicht mehr anmelden. Das Passwort wird als falsch angezeigt, aber die Mail "
    "zum Zurücksetzen kommt nie an. Bitte helfen Sie mir, ich brauche eine Rechnung.",
    "Bonjour, j'ai commandé il y a douze jours et la page de suivi indique toujours 'étiquette créée'. Pouvez-vous "
    "me dire où se trouve mon colis ? Merci.",
]


def _pct(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples)
    return {
        "p50_ms": round(ms[len(ms) // 2], 4),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


def timed(fn: Callable[[int], Any], n: int, warm: int = 20) -> dict[str, float]:
    for i in range(warm):
        fn(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return _pct(out)


def pure_stages(n: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from helpline.router import language, sentiment
    from helpline.router.priority import PriorityFacts, evaluate
    from helpline.store.config import Settings
    from helpline.store.envelope import Envelope, Sender
    from helpline.workers.tickets import triage

    settings = Settings(data_dir=tempfile.mkdtemp())
    envs = [
        Envelope(
            channel="email",
            external_id=str(i),
            received_at="2026-03-02T10:00:00+00:00",
            sender=Sender(address="a@example.org"),
            subject="Order",
            text=t,
        )
        for i, t in enumerate(MAIL + SHORT)
    ]
    out: dict[str, Any] = {}
    with threadpool_limits(limits=1):
        for texts, label in ((SHORT, "short"), (MAIL, "mail")):
            out[f"language_low_{label}"] = timed(
                lambda i, texts=texts: language.detect("", texts[i % len(texts)], LANGS, "low"), n
            )
            out[f"sentiment_{label}"] = timed(lambda i, texts=texts: sentiment.score(texts[i % len(texts)], "en"), n)
        for texts, label in ((SHORT, "short"), (MAIL, "mail")):
            out[f"language_high_{label}"] = timed(
                lambda i, texts=texts: language.detect("", texts[i % len(texts)], LANGS, "high"), max(50, n // 10)
            )
        out["signals_low"] = timed(lambda i: triage.signals(envs[i % len(envs)], settings), n)
        facts = [
            PriorityFacts(
                subject="Our shop is down" if i % 3 == 0 else "Question",
                text=MAIL[i % len(MAIL)],
                channel="email",
                customer_tier="enterprise" if i % 5 == 0 else "standard",
                sentiment=-0.7 if i % 7 == 0 else 0.1,
                contacts={dt.timedelta(hours=1): i % 4 + 1},
            )
            for i in range(100)
        ]
        out["priority_rules"] = timed(lambda i: evaluate(facts[i % len(facts)]), n)
    return out


def _pg_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def db_stages(kind: str, n: int, history: int, customers: int) -> dict[str, Any]:
    """The tier + repeated-contact reads on a database with ``history`` messages."""
    from helpline.store import db, migrations
    from helpline.store.tickets import triage_state
    from helpline.store import fastsql as sql
    from helpline.store.db import run_tx

    name = ""
    if kind == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    else:
        import psycopg2

        name = "helpline_bench_" + uuid.uuid4().hex[:10]
        admin = psycopg2.connect(_pg_url("postgres"))
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    db.init(url, 5000)
    try:
        migrations.upgrade()
        now = dt.datetime(2026, 3, 2, 12, 0)
        rng = random.Random(1)

        def fill() -> list[tuple[int, int, str]]:
            made = []
            for c in range(customers):
                cid = sql.insert("customer", {"name": f"c{c}", "tier": "standard", "created_at": now})
                addr = f"c{c}@example.org"
                sql.insert("identity", {"customer_id": cid, "kind": "email", "address": addr, "created_at": now})
                tid = sql.insert(
                    "ticket",
                    {
                        "number": f"HL-2026-{c + 1:06d}",
                        "subject": "s",
                        "status": "open",
                        "priority": "medium",
                        "channel": "email",
                        "customer_id": cid,
                        "support_address": "support@example.com",
                        "created_at": now,
                        "updated_at": now,
                        "last_customer_at": now,
                        "possible_follow_up": False,
                    },
                )
                made.append((cid, tid, addr))
            rows = []
            for i in range(history):
                cid, tid, addr = made[rng.randrange(customers)]
                rows.append(
                    {
                        "ticket_id": tid,
                        "direction": "in",
                        "author_role": "customer",
                        "author": "",
                        "channel": "email",
                        "external_id": str(i),
                        "message_id": "",
                        "sender": addr,
                        "subject": "",
                        "text": "",
                        "full_text": "",
                        "html": "",
                        "body_hash": "",
                        "raw_blob_key": "",
                        "delivery_status": "",
                        "created_at": now - dt.timedelta(minutes=rng.randrange(60 * 24 * 30)),
                    }
                )
                if len(rows) == 500:
                    sql.insert_many("message", rows)
                    rows = []
            sql.insert_many("message", rows)
            return made

        made = run_tx(fill)
        windows = (dt.timedelta(hours=1),)
        out: dict[str, Any] = {"history": history, "customers": customers}

        def one(fn: Callable[[], Any]) -> Callable[[int], Any]:
            return lambda i: run_tx(fn, durable=False)

        def customer(i: int) -> Any:
            cid, _, addr = made[i % len(made)]
            return run_tx(lambda: triage_state.customer_facts(cid, addr, windows, now), durable=False)

        def ticket(i: int) -> Any:
            cid, tid, addr = made[i % len(made)]
            return run_tx(lambda: triage_state.ticket_facts(tid, cid, addr, windows, now), durable=False)

        def empty(i: int) -> Any:
            return run_tx(lambda: None, durable=False)

        out["empty_transaction"] = timed(empty, n)
        out["customer_facts_in_tx"] = timed(customer, n)
        out["ticket_facts_in_tx"] = timed(ticket, n)
        return out
    finally:
        db.database().close()
        if name:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.close()


_RSS = r"""
import json, sys, psutil
p = psutil.Process()
from helpline.workers import pipeline
from helpline.workers.tickets import triage  # what a worker process has loaded
from helpline.router.categories.category import load_active_model
from helpline.router import language, sentiment
base = p.memory_info().rss
texts = %r
for t in texts:
    language.detect("", t, %r, %r)
after_lang = p.memory_info().rss
sentiment.score("This is terrible, I am angry", "en")
print(json.dumps({"rss_before_mb": round(base / 1e6, 1), "language_mb": round((after_lang - base) / 1e6, 1),
                  "vader_mb": round((p.memory_info().rss - after_lang) / 1e6, 1)}))
"""


def memory(accuracy: str) -> dict[str, Any]:
    code = _RSS % (SHORT + MAIL, LANGS, accuracy)
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if got.returncode:
        raise SystemExit(got.stderr)
    return json.loads(got.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--customers", type=int, default=5_000)
    args = ap.parse_args()
    report = {
        "per_message": pure_stages(args.messages),
        "database": {args.db: db_stages(args.db, args.messages, args.history, args.customers)},
        "memory": {"low": memory("low"), "high": memory("high")},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
