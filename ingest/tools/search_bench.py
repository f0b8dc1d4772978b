"""``helpline bench --search``: search latency over a generated history.

It makes a throw-away database (SQLite in a temporary folder, or the
PostgreSQL server of ``--search-database``, in a new database it drops
afterwards), loads ``--search-messages`` messages of generated conversations
through ``store.search_bench_data`` (the index triggers run as for live mail),
then runs a query set sampled by word frequency (rare, medium and common words;
one to three words, taken from one message so that most queries have hits;
half of them with filters) and prints one JSON object: load time and rate, and
p50/p95/max latency overall and per group, of ``store.search.search`` asking
for the top 20 tickets with snippets, plus articles.

Texts: customer utterances of the Bitext customer-service intent sample
(``shared/data/bitext-support-intents``, CDLA-Sharing-1.0) when found, woven into
mails with greetings, order numbers, names and quoted replies; a small built-in
set otherwise.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

BUILTIN = [
    "how can I cancel my order",
    "I want a refund for invoice",
    "the parcel never arrived",
    "I cannot log in to my account",
    "please change my shipping address",
    "my payment failed twice",
    "where is my package",
    "I was charged twice this month",
    "how do I reset my password",
    "the product arrived broken",
    "can I speak to a human agent",
    "I need a copy of my invoice",
]
NAMES = [
    "Alice Martin",
    "Bruno Keller",
    "Chloé Dubois",
    "Dmitri Ivanov",
    "Eva Lindqvist",
    "Farid Haddad",
    "Grete Müller",
    "Hiro Tanaka",
    "Inês Costa",
    "Jan Novák",
    "Kofi Mensah",
    "Lena Schmidt",
    "Mateo García",
    "Nora Berg",
    "Omar Farouk",
    "Priya Nair",
    "Quentin Roy",
    "Rosa Bianchi",
    "Sven Olsen",
    "Tara Singh",
]
PRODUCTS = [
    "kettle",
    "headphones",
    "backpack",
    "blender",
    "lamp",
    "router",
    "jacket",
    "sneakers",
    "monitor",
    "keyboard",
    "tent",
    "stroller",
    "drill",
    "camera",
    "printer",
    "mattress",
    "sofa",
    "watch",
    "tablet",
    "charger",
    "suitcase",
    "vacuum",
    "toaster",
    "speaker",
    "bicycle",
    "helmet",
    "guitar",
    "scooter",
]
CITIES = [
    "Lisbon",
    "Hamburg",
    "Lyon",
    "Turin",
    "Gdansk",
    "Utrecht",
    "Bergen",
    "Tampere",
    "Porto",
    "Graz",
    "Malmo",
    "Leeds",
    "Cork",
    "Brno",
    "Ghent",
    "Split",
    "Kaunas",
    "Tartu",
    "Bilbao",
    "Nantes",
]
GREETINGS = ["Hello,", "Hi,", "Good morning,", "Dear support team,", "Hey there,", "Good afternoon,"]
CLOSINGS = ["Thanks,", "Best regards,", "Kind regards,", "Cheers,", "Thank you,"]
REPLIES = [
    "Thank you for your message. We have looked into it and {fix}.",
    "Sorry for the trouble. {fix}; you will get a confirmation by mail.",
    "We checked order {n}: {fix}. Let us know if anything else comes up.",
]
FIXES = [
    "the refund is on its way",
    "a replacement has been sent",
    "your address has been updated",
    "the invoice is attached",
    "your password reset link works again",
    "the duplicate charge was reversed",
    "the courier will deliver tomorrow",
    "your subscription is cancelled",
]
STATUSES = ["new", "open", "in_progress", "waiting_customer", "resolved", "resolved", "closed", "closed"]
TEAMS = ["billing", "tech", "shipping", None]
TAGS = ["vip", "refund", "chargeback", "bug", "escalated", "press", "b2b", "fraud-check"]
_WORD = re.compile(r"[a-zà-ÿ]{3,}")


def _corpus() -> list[str]:
    here = Path.cwd()
    for base in (here / ".." / "shared" / "data", here / "shared" / "data", Path("/work/shared/data")):
        folder = base / "bitext-support-intents"
        if folder.is_dir():
            out = []
            for f in sorted(folder.glob("*.csv")):
                with open(f, newline="", encoding="utf-8") as fh:
                    out += [row["utterance"].strip() for row in csv.DictReader(fh) if row.get("utterance")]
            if out:
                return out
    return BUILTIN


def _generate(rng: random.Random, utterances: list[str], n_messages: int, start: dt.datetime):  # noqa: ANN202
    from helpline.store.fulltext.search_bench_data import BenchMessage, BenchTicket

    made = 0
    i = 0
    while made < n_messages:
        name = rng.choice(NAMES)
        first = name.split()[0]
        addr = f"{first.lower()}.{i}@{rng.choice(['example.com', 'mail.example', 'corp.example', 'shop.example'])}"
        created = start + dt.timedelta(minutes=i * 3 + rng.randint(0, 2))
        n = rng.randint(10_000_000, 99_999_999)
        product, city = rng.choice(PRODUCTS), rng.choice(CITIES)
        say = " ".join(rng.choice(utterances) for _ in range(rng.randint(1, 3)))
        body = (
            f"{rng.choice(GREETINGS)}\n\n{say}\nIt is about the {product} of order {n}, shipped to {city}.\n\n"
            f"{rng.choice(CLOSINGS)}\n{first}\n"
        )
        subject = rng.choice(utterances)[:80].rstrip("?.!") if rng.random() < 0.7 else f"Order {n}: {product}"
        lang = "en" if rng.random() < 0.8 else None
        msgs = [BenchMessage("customer", name, addr, body, body, lang, created)]
        k = min(rng.choice([1, 1, 2, 3, 4]), n_messages - made)
        for j in range(1, k):
            when = created + dt.timedelta(hours=j)
            if j % 2:
                text = rng.choice(REPLIES).format(fix=rng.choice(FIXES), n=n)
                msgs.append(BenchMessage("agent", "Sam Agent", "support@bench.example", text, text, "en", when))
            else:
                new = rng.choice(utterances)
                full = f"{new}\n\nOn {created:%a, %d %b %Y}, Support wrote:\n> {msgs[-1].text[:200]}"
                msgs.append(BenchMessage("customer", name, addr, new, full, lang, when))
        tags = rng.sample(TAGS, rng.randint(1, 2)) if rng.random() < 0.15 else []
        yield BenchTicket(
            name,
            addr,
            subject,
            rng.choice(STATUSES),
            rng.choice(["low", "medium", "medium", "high"]),
            rng.choice(TEAMS),
            "email",
            created,
            msgs,
            tags,
        )
        made += len(msgs)
        i += 1


def _queries(rng: random.Random, texts: list[str], n: int) -> list[tuple[str, str, bool, str]]:
    """(group, words, filtered, query): words from one text, the first one from the frequency group."""
    freq: Counter[str] = Counter()
    docs: dict[str, list[int]] = {}
    for idx, text in enumerate(texts):
        words = set(_WORD.findall(text.lower()))
        freq.update(words)
        for w in words:
            seen = docs.setdefault(w, [])
            if len(seen) < 8:
                seen.append(idx)
    ranked = [w for w, c in freq.most_common() if c >= 2]
    third = max(1, len(ranked) // 3)
    groups = {"common": ranked[: min(60, third)], "medium": ranked[third : 2 * third], "rare": ranked[2 * third :]}
    filters = [
        "status:open",
        "team:billing",
        "status:resolved status:closed",
        "tag:vip",
        "after:2026-02-01",
        "team:tech status:new",
        "priority:high",
        "-refund",
    ]
    out = []
    for i in range(n):
        group = ("rare", "medium", "common")[i % 3]
        words_n = 1 + (i // 3) % 3
        filtered = (i // 9) % 2 == 1
        first = rng.choice(groups[group] or ranked)
        text_words = list(dict.fromkeys(_WORD.findall(texts[rng.choice(docs[first])].lower())))
        extra = [w for w in text_words if w != first]
        rng.shuffle(extra)
        words = [first] + extra[: words_n - 1]
        q = " ".join(words) + (" " + rng.choice(filters) if filtered else "")
        out.append((group, f"{words_n}w", filtered, q))
    return out


def _pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))], 2)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": _pct(values, 50),
        "p95_ms": _pct(values, 95),
        "max_ms": round(max(values), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def _open_database(url: str | None, tmp: str, keep: str | None = None) -> tuple[str, str | None]:
    """(database URL, PostgreSQL database to drop afterwards). ``keep``: the name of a database
    (PostgreSQL) or file (SQLite) that is made when missing and kept afterwards, so the slow load of
    a large history is paid once across runs."""
    if not url:
        if keep:
            return f"sqlite:///{Path(tempfile.gettempdir()) / (keep + '.sqlite3')}", None
        return f"sqlite:///{tmp}/bench.sqlite3", None
    if url.startswith("sqlite"):
        return url, None
    from helpline.store.fulltext import search_bench_data as data

    name = keep or "helpline_search_bench_" + uuid.uuid4().hex[:8]
    data.ensure_database(url, name)
    return url.rsplit("/", 1)[0] + "/" + name, None if keep else name


def _drop(url: str, name: str) -> None:
    from helpline.store.fulltext import search_bench_data as data

    data.drop_database(url, name)


def main(args: argparse.Namespace) -> int:
    from helpline.store import db, migrations
    from helpline.store.fulltext import search
    from helpline.store.fulltext import search_bench_data as data
    from helpline.store.db import run_tx
    from helpline.store.fulltext.search_syntax import parse

    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="helpline-search-bench-")
    keep = getattr(args, "search_keep", None)
    if keep and not re.fullmatch(r"[a-z0-9_]{1,50}", keep):
        raise SystemExit("--search-keep: a name of lowercase letters, digits and _ (at most 50)")
    url, pg_name = _open_database(args.search_database, tmp, keep)
    try:
        db.init(url, 30000)
        migrations.upgrade()
        # a kept database that holds a whole load of this size is reused: the generator still runs (its
        # texts seed the query set, and the random stream must be the same), but nothing is written
        reuse = bool(keep) and run_tx(data.message_count, durable=False) == args.search_messages
        if keep and not reuse and run_tx(data.message_count, durable=False):
            raise SystemExit(f"--search-keep {keep}: it holds a different or partial load; drop it first")
        utterances = _corpus()
        texts: list[str] = []
        t0 = time.perf_counter()
        batch: list = []
        serial = 1
        progress = sys.stderr.isatty() and not args.json
        for ticket in _generate(rng, utterances, args.search_messages, dt.datetime(2026, 1, 1)):
            if len(texts) < 50_000:
                texts += [m.text for m in ticket.messages]
            if reuse:
                serial += 1
                continue
            batch.append(ticket)
            if len(batch) >= 500:
                serial = run_tx(lambda b=batch, s=serial: data.write(b, s))
                batch = []
                if progress:
                    print(f"\rloaded {serial - 1} tickets", end="", file=sys.stderr)
        if batch:
            serial = run_tx(lambda b=batch, s=serial: data.write(b, s))
        load_s = time.perf_counter() - t0
        if not reuse:
            run_tx(data.optimise)
        messages = run_tx(data.message_count, durable=False)
        if progress:
            print(file=sys.stderr)
        queries = _queries(rng, texts, args.search_queries)
        for _, _, _, text in queries[:10]:  # warm the caches as a running desk has them
            run_tx(lambda t=text: search.search(parse(t), limit=20), durable=False)
        timings: dict[str, list[float]] = {}
        hits: list[int] = []
        for group, words, filtered, text in queries:
            q = parse(text)
            start = time.perf_counter()
            res = run_tx(lambda q=q: search.search(q, limit=20), durable=False)
            ms = (time.perf_counter() - start) * 1000
            hits.append(len(res.tickets))
            for key in ("all", group, words, "filtered" if filtered else "words_only"):
                timings.setdefault(key, []).append(ms)
        slowest = sorted(zip(timings["all"], (q[3] for q in queries), strict=False), reverse=True)[:5]
        result = {
            "engine": "sqlite" if url.startswith("sqlite") else "postgresql",
            "messages": messages,
            "tickets": serial - 1,
            "load_s": round(load_s, 1),
            "load_messages_per_s": None if reuse else round(messages / load_s),
            "reused": reuse,
            "queries": len(queries),
            "top": 20,
            "with_hits": sum(1 for h in hits if h),
            "latency": {k: _summary(v) for k, v in timings.items()},
            "slowest": [{"ms": round(ms, 1), "q": q} for ms, q in slowest],
            "corpus": "bitext" if utterances is not BUILTIN else "builtin",
        }
        explain_n = int(getattr(args, "search_explain", 0) or 0)
        if explain_n:
            from helpline.store.fulltext import search_profile

            worst = sorted(zip(timings["all"], (q[3] for q in queries), strict=False), reverse=True)[:explain_n]
            for ms, text in worst:
                got = run_tx(
                    lambda t=text: search_profile.slowest_plan(lambda: search.search(parse(t), limit=20)),
                    durable=False,
                )
                print(f"\n=== {ms:.1f} ms in the run, {got['total_ms']} ms again: {text!r}", file=sys.stderr)
                for sms, st in got["statements"]:
                    print(f"  {sms:7.1f} ms  {st}", file=sys.stderr)
                for line in got["plan"]:
                    print(f"    | {line}", file=sys.stderr)
        print(json.dumps(result, indent=None if args.json else 2))
        return 0 if result["latency"]["all"]["p95_ms"] <= args.search_target_ms else 1
    finally:
        db.database().close()
        if pg_name:
            _drop(args.search_database, pg_name)
        for f in Path(tmp).glob("*"):
            f.unlink()
        os.rmdir(tmp)
