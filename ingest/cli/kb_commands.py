"""``helpline kb sync|list|show|suggest``: the knowledge base from the command line.

``kb suggest --stdin`` reads one text a line and prints one JSON object a
line, loading the knowledge base once, so scoring a thousand texts costs one
start-up; it imports neither the worker stack nor scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import sys


def _settings():  # noqa: ANN202
    from helpline.store import config, db

    s = config.load()
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    return s


def cmd_kb(args: argparse.Namespace) -> int:
    return {"sync": _sync, "list": _list, "show": _show, "suggest": _suggest}[args.kb_action](args)


def _sync(args: argparse.Namespace) -> int:
    from helpline.store.storage import blobs

    from helpline.ingest.knowledge.kb_sync import sync

    s = _settings()
    store = blobs.open_store(s.blob_backend, s.effective_blob_dir)
    try:
        report = sync(args.dir, store.put)
    except FileNotFoundError as exc:
        print(f"helpline kb sync: {exc}", file=sys.stderr)
        return 2
    for e in report.errors:
        print(f"helpline kb sync: {e}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        m = report.macros
        print(
            f"articles: {len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} "
            f"unchanged, {len(report.retired)} retired; macros: {len(m.get('added', []))} added, "
            f"{len(m.get('updated', []))} updated, {len(m.get('retired', []))} retired; "
            f"{len(report.errors)} file(s) with errors"
        )
    return 1 if report.errors else 0


def _list(args: argparse.Namespace) -> int:
    from helpline.store.knowledge import kb_state
    from helpline.store.db import run_tx

    _settings()
    rows = run_tx(
        lambda: [
            kb_state.article_dict(a) for a in kb_state.list_articles(include_retired=args.all, language=args.language)
        ],
        durable=False,
    )
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for r in rows:
        flag = "" if r["status"] == "active" else f" [{r['status']}]"
        print(f"{r['slug']:<32} {r['language']:<5} {r['audience']:<8} v{r['version']:<3} {r['title']}{flag}")
    if not rows:
        print("no articles (helpline kb sync DIR)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from helpline.store.knowledge import kb_state
    from helpline.store.db import run_tx

    _settings()

    def read() -> dict | None:
        a = kb_state.get_article(args.slug, args.language)
        if a is None:
            return None
        out = kb_state.article_dict(a, with_body=True)
        out["previous_versions"] = [v.version for v in kb_state.versions(a.id)]
        return out

    data = run_tx(read, durable=False)
    if data is None:
        print(f"helpline kb show: no article {args.slug!r}; `helpline kb list` shows them", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(
            f"{data['title']}\n{data['slug']} ({data['language']}, {data['audience']}, v{data['version']}, "
            f"{data['status']})  tags: {', '.join(data['tags']) or '-'}\n"
        )
        for q in data["questions"]:
            print(f"  ? {q}")
        print("\n" + data["body"].strip())
    return 0


def _suggest(args: argparse.Namespace) -> int:
    from helpline.router.kb.kb_suggest import Suggester
    from helpline.store.db import run_tx

    _settings()
    use = False if getattr(args, "no_embeddings", False) else None
    suggester = run_tx(lambda: Suggester.load(embeddings=use), durable=False)
    if args.stdin:
        out = sys.stdout
        for line in sys.stdin:
            text = line.rstrip("\n")
            out.write(json.dumps(suggester.suggest(text, args.language), ensure_ascii=False) + "\n")
        out.flush()
        return 0
    if args.text is None:
        print('helpline kb suggest: give --text "…" or --stdin', file=sys.stderr)
        return 2
    result = suggester.suggest(args.text, args.language)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    for a in result["articles"]:
        print(f"article {a['slug']:<28} {a['score']:7.2f}  {a['title']}  ({a['why']})")
    for t in result["tickets"]:
        print(f"ticket  {t['number']:<28} {t['score']:7.2f}  {t['reply_excerpt'][:80]}")
    if not result["articles"] and not result["tickets"]:
        print("no suggestions")
    return 0


def cmd_macros(args: argparse.Namespace) -> int:
    from helpline.store.knowledge import kb_state
    from helpline.store.db import run_tx

    s = _settings()
    if args.macros_action == "list":
        rows = run_tx(
            lambda: [
                {"name": r.name, "team": r.team or None, "language": r.language, "actions": r.actions}
                for r in kb_state.list_macros()
            ],
            durable=False,
        )
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
        for r in rows if not args.json else []:
            acts = ", ".join(f"{k}={v}" for k, v in r["actions"].items()) or "-"
            print(f"{r['name']:<24} {r['team'] or '(all teams)':<14} {r['language']:<5} {acts}")
        if not rows and not args.json:
            print("no macros (put them in DIR/macros/*.md and run helpline kb sync DIR)")
        return 0
    import getpass
    import hashlib

    from helpline.notifier.macro_render import MacroError
    from helpline.store.tickets import routing_state
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import macro_ops
    from helpline.store.inbound import audit_events
    from helpline.workers.tickets.ticket_ops import TicketOpError

    ids = run_tx(lambda: routing_state.ids_of([args.number]), durable=False)
    tid = ids.get(args.number.strip().upper()) if isinstance(ids, dict) else None
    if tid is None:
        print(f"helpline macros apply: no ticket {args.number!r}", file=sys.stderr)
        return 1
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "cli"
    author = args.author or user
    key = "cli-macro:" + (
        args.key or hashlib.sha256(f"{tid}:{args.name}:{utcnow().isoformat()}".encode()).hexdigest()[:16]
    )

    def tx():  # noqa: ANN202
        with audit_events.buffered_events():
            return macro_ops.apply(
                tid, args.name, agent=author, actor=f"cli:{user}", key=key, settings=s, now=utcnow(), via="cli"
            )

    try:
        done = run_tx(tx)
    except (macro_ops.MacroNotFound, MacroError, TicketOpError) as exc:
        print(f"helpline macros apply: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.number.upper()}: macro {done.name} applied; reply by {done.reply.channel} to "
        f"{done.reply.recipient}" + (" (already sent before)" if done.reply.repeated else "")
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    kb = sub.add_parser("kb", help="knowledge base: sync a folder of Markdown articles, list, show, suggest")
    ksub = kb.add_subparsers(dest="kb_action", required=True)
    s = ksub.add_parser("sync", help="add, update and retire articles (and macros/) from a folder")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")
    li = ksub.add_parser("list", help="the articles")
    li.add_argument("--all", action="store_true", help="retired ones too")
    li.add_argument("--language")
    li.add_argument("--json", action="store_true")
    sh = ksub.add_parser("show", help="one article")
    sh.add_argument("slug")
    sh.add_argument("--language")
    sh.add_argument("--json", action="store_true")
    sg = ksub.add_parser("suggest", help="the top articles and similar resolved tickets for a text")
    src = sg.add_mutually_exclusive_group()
    src.add_argument("--text")
    src.add_argument("--stdin", action="store_true", help="one text a line in, one JSON object a line out")
    sg.add_argument("--language", help="only articles in this language (ISO 639-1), and its stemmer")
    sg.add_argument("--json", action="store_true")
    sg.add_argument(
        "--no-embeddings",
        action="store_true",
        help="rank articles by BM25 alone even when the embeddings extra is installed (to compare)",
    )
    kb.set_defaults(fn=cmd_kb)
    mc = sub.add_parser("macros", help="canned replies with actions: list, apply to a ticket")
    msub = mc.add_subparsers(dest="macros_action", required=True)
    ml = msub.add_parser("list")
    ml.add_argument("--json", action="store_true")
    ma = msub.add_parser("apply", help="send the macro's reply and do its actions")
    ma.add_argument("name")
    ma.add_argument("number", help="the ticket, e.g. HL-1234")
    ma.add_argument("--author", help="the agent's name in the reply (default: your login)")
    ma.add_argument("--key", help="a name for this use: the same key twice sends once")
    mc.set_defaults(fn=cmd_macros)
