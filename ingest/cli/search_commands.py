"""``helpline search "…"``, ``helpline search reindex``, ``helpline search misses`` and
``helpline tickets tag NUMBER +x -y``.

The query language is ``store.search_syntax``'s (words, "phrases", -excluded,
field:value). ``reindex`` rebuilds the index in batches with a progress bar
(rich), while the desk keeps running; it is needed once after upgrading a
database that existed before migration 14 (on PostgreSQL; SQLite's upgrade
rebuilds the message index itself).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from helpline.ingest.cli.routing_commands import _actor, _settings

SUBCOMMANDS = ("reindex", "misses")


def _search(args: argparse.Namespace) -> int:
    from helpline.store.fulltext import search
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow
    from helpline.store.fulltext.search_syntax import QueryError, parse

    text = " ".join(args.words)
    try:
        q = parse(text)
    except QueryError as exc:
        print(f"helpline search: {exc}", file=sys.stderr)
        return 2
    _settings()
    scope = tuple(args.team) if args.team else None
    res = run_tx(lambda: search.search(q, scope_teams=scope, limit=args.limit), durable=False)
    if not res.tickets and not res.articles:
        run_tx(lambda: search.record_miss(q.normalised(), utcnow()))
    if args.json:
        print(json.dumps(res.as_dict("text"), indent=2, ensure_ascii=False))
        return 0
    style = "ansi" if sys.stdout.isatty() else "text"
    for t in res.tickets:
        print(f"{t.number}  {t.status:<16} {t.score:>9.4f}  {t.subject[:70]}")
        print(f"    {search.render_snippet(t.snippet, style)}")
    for a in res.articles:
        print(f"article {a.slug} ({a.language})  {a.score:.4f}  {a.title[:70]}")
        print(f"    {search.render_snippet(a.snippet, style)}")
    if not res.tickets and not res.articles:
        print("nothing found", file=sys.stderr)
        return 1
    return 0


def _reindex(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from helpline.store.fulltext import search_index
    from helpline.store.db import run_tx

    _settings()
    totals = run_tx(search_index.counts, durable=False)
    with Progress(
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=args.json or not sys.stderr.isatty(),
        transient=False,
    ) as bar:
        tasks = {k: bar.add_task(k, total=max(1, v)) for k, v in totals.items()}

        def progress(kind: str, done: int) -> None:
            bar.update(tasks[kind], completed=done)

        done = search_index.reindex(progress)
    if args.json:
        print(json.dumps(done))
    else:
        print("reindexed: " + ", ".join(f"{v} {k}" for k, v in done.items()))
    return 0


def _misses(args: argparse.Namespace) -> int:
    import datetime as dt

    from helpline.store.fulltext import search
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow

    _settings()
    since = utcnow() - dt.timedelta(days=args.days) if args.days else None
    rows = run_tx(lambda: search.misses(since, args.limit), durable=False)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['count']:>6}  {r['last_at'][:16]}  {r['query']}")
        if not rows:
            print("no search has come back empty" + (f" in the last {args.days} days" if args.days else ""))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if len(args.words) == 1 and args.words[0] == "reindex":
        return _reindex(args)
    if len(args.words) == 1 and args.words[0] == "misses":
        return _misses(args)
    if not args.words:
        print('helpline search: give a query, e.g. helpline search "refund invoice" status:open', file=sys.stderr)
        return 2
    return _search(args)


def cmd_tag(args: argparse.Namespace) -> int:
    from helpline.store.tickets import routing_state
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import ticket_tags
    from helpline.store.inbound import audit_events

    changes, as_json, actor = [], False, ""
    it = iter(args.changes)  # taken whole (argparse would read -tag as an option)
    for c in it:
        if c == "--json":
            as_json = True
        elif c == "--actor":
            actor = next(it, "")
        elif c.startswith("--actor="):
            actor = c.split("=", 1)[1]
        elif c != "--":
            changes.append(c)
    add = [c[1:] for c in changes if c.startswith("+")]
    remove = [c[1:] for c in changes if c.startswith("-")]
    bad = [c for c in changes if not c.startswith(("+", "-"))]
    if bad or not changes:
        print(
            f"helpline tickets tag: {(bad or [''])[0]!r}: write +tag to add or -tag to remove, e.g. "
            "helpline tickets tag HL-2026-000042 +vip -refund",
            file=sys.stderr,
        )
        return 2
    args.actor, args.json = actor, as_json
    _settings()
    key = args.number.strip().upper()
    ids = run_tx(lambda: routing_state.ids_of([key]), durable=False)
    if key not in ids:
        print(f"helpline tickets tag: no ticket {key}; `helpline tickets list` shows the numbers", file=sys.stderr)
        return 1
    actor = _actor(args)

    def tx() -> list[str]:
        with audit_events.buffered_events():
            return ticket_tags.change(ids[key], add, remove, actor=actor, now=utcnow(), via="cli")

    try:
        now_tags = run_tx(tx)
    except ticket_tags.TagError as exc:
        print(f"helpline tickets tag: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"ticket": key, "tags": now_tags}) if args.json else f"{key}: {' '.join(now_tags) or '(no tags)'}")
    return 0


def register(subparsers: Any, tickets: Any) -> None:
    s = subparsers.add_parser(
        "search",
        help='full-text search: search "words" | search reindex | search misses',
        description='Search tickets and articles: words, "exact phrases", -excluded, '
        "from: subject: status: team: tag: assignee: channel: category: priority: "
        "customer: before: after:. `search reindex` rebuilds the index; "
        "`search misses` lists searches that found nothing.",
    )
    s.add_argument("words", nargs="*", help="the query (quote it in the shell)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--team", action="append", help="only these teams' tickets (repeatable)")
    s.add_argument("--days", type=int, default=0, help="misses: only searches of the last N days")
    s.set_defaults(fn=cmd_search)
    t = tickets.add_parser("tag", help="add (+tag) and remove (-tag) tags: tickets tag HL-… +vip -- -refund")
    t.add_argument("number")
    t.add_argument(
        "changes",
        nargs=argparse.REMAINDER,
        metavar="+TAG|-TAG",
        help="then optionally --actor WHO (default cli:$USER) and --json",
    )
    t.set_defaults(fn=cmd_tag)
