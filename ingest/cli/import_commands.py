"""``helpline import mbox FILE | maildir DIR | eml DIR``: bring a support mailbox's history in.

Every message takes the live pipeline (normalisation, dedupe, threading,
triage, persistence, search index) but nothing is sent and no SLA clock
starts; conversations end resolved unless a message is newer than
``--open-since``. Safe while the desk runs; resumable (see ingest/importer/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys


def _date(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write it as 2024-01-31 or 2024-01-31T12:00"
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import mail history (mbox, Maildir, .eml folder) without sending anything")
    p.add_argument("kind", choices=("mbox", "maildir", "eml"))
    p.add_argument("source", help="the mbox file, the Maildir, or the folder of .eml files")
    p.add_argument(
        "--open-since",
        type=_date,
        default=None,
        metavar="DATE",
        help="conversations with a message newer than DATE stay open (default: all end resolved)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="run everything and report, writing nothing (SQLite: on a private copy of the database, exact counts; "
        "PostgreSQL: each batch rolled back, counts across batches approximate)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=200,
        help="messages per write transaction (default 200, some 150-300 ms of writing: live mail waits at most one batch)",
    )
    p.add_argument("--jobs", type=int, default=0, help="parser processes (default: one per core)")
    p.add_argument(
        "--writers",
        type=int,
        default=0,
        help="batch writers at once, each a conversation's messages in order (default: 2 on PostgreSQL, 1 on SQLite)",
    )
    p.add_argument("--restart", action="store_true", help="ignore the checkpoint and read the source from the start")
    p.add_argument("--max-message-mb", type=float, default=50.0, help="skip (and list) larger messages")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is also off when not a terminal)")
    p.set_defaults(fn=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    import os

    from helpline.ingest.importer import run, sources
    from helpline.store import config, db

    s = config.load()
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    if not os.path.exists(args.source):
        print(f"helpline import: {args.source} does not exist", file=sys.stderr)
        return 2
    show = not args.no_progress and sys.stderr.isatty()
    try:
        total = run.total_hint(args.kind, args.source)
        kwargs = dict(
            open_since=args.open_since,
            dry_run=args.dry_run,
            batch_size=max(1, args.batch_size),
            jobs=args.jobs or None,
            restart=args.restart,
            max_bytes=int(args.max_message_mb * 1024 * 1024),
            writers=args.writers or None,
        )
        if show:
            report = _with_bar(args, s, total, kwargs)
        else:
            report = run.run_import(args.kind, args.source, s, **kwargs)
    except sources.SourceError as exc:
        print(f"helpline import: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print(report)
    return 0


def _with_bar(args: argparse.Namespace, s, total: int, kwargs: dict):  # noqa: ANN001, ANN202
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from helpline.ingest.importer import run

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[messages]} msgs · {task.fields[rate]} msg/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(
            f"import {args.kind}" + (" (dry run)" if args.dry_run else ""), total=total or None, messages=0, rate="-"
        )
        import time

        t0 = time.perf_counter()

        def progress(messages: int, done: int) -> None:
            elapsed = time.perf_counter() - t0
            bar.update(
                task, completed=done, messages=messages, rate=f"{messages / elapsed:,.0f}" if elapsed > 0 else "-"
            )

        report = run.run_import(args.kind, args.source, s, progress=progress, **kwargs)
        bar.update(task, completed=total)
    return report


def _print(report) -> None:  # noqa: ANN001
    acts = ", ".join(f"{k} {v}" for k, v in sorted(report.actions.items()))
    head = "would import" if report.dry_run else "imported"
    print(
        f"{head} {report.read} messages from {report.source} in {report.seconds:.1f}s "
        f"({report.rate:,.0f}/s): {acts}; {report.resolved} conversations resolved"
    )
    if report.resumed_from:
        print(f"resumed from checkpoint position {report.resumed_from}")
    if report.dry_run and report.exact:
        print("dry run: nothing was written (run on a private copy of the database, so the counts are exact)")
    elif report.dry_run:
        print(
            "dry run: nothing was written. PostgreSQL rolls each batch back, so a message does not see the "
            "rows earlier batches would have made: a reply whose conversation began in an earlier batch "
            "counts as 'created' rather than 'appended', a copy of a message of an earlier batch as new "
            "rather than 'already_imported' or 'duplicate', and no conversation as resolved. The messages "
            "read and the unreadable ones are exact."
        )
    if report.unreadable:
        print(f"{len(report.unreadable)} message(s) could not be imported:")
        for where, why in report.unreadable[:200]:
            print(f"  {where}: {why}")
        if len(report.unreadable) > 200:
            print(f"  … and {len(report.unreadable) - 200} more (use --json for all)")
