"""``helpline``: the composition root, the one place that may reach every package.

Each subcommand imports what it needs when it runs, so ``helpline tickets list``
starts fast and never loads the worker stack or scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence


def _settings(secret: bool = True):  # noqa: ANN202
    from helpline.store import config

    s = config.load()
    return config.ensure_secret_key(s) if secret else s


def _service_settings():  # noqa: ANN202
    """Settings for a long-running process: the whole configuration checked before anything starts."""
    from helpline.ingest.cli import config_check

    for warning in config_check.unknown_variables():
        print(f"helpline: warning: {warning}", file=sys.stderr)
    s = _settings()
    config_check.check(s)
    return s


def _multiproc_env(settings) -> None:  # noqa: ANN001
    """prometheus-client's multiprocess mode must be chosen before it is imported."""
    path = settings.effective_metrics_dir
    from helpline.store.private_paths import private_dir

    private_dir(path)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", path)


def _logging(settings) -> None:  # noqa: ANN001
    from helpline.store.logs import configure_logging

    configure_logging(settings)


def _db(settings) -> None:  # noqa: ANN001
    from helpline.store import db

    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)


def _print(obj: Any, as_json: bool) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str) if as_json else obj)


# ---- subcommands -----------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from helpline.ingest.runner import run

    s = _service_settings()
    _multiproc_env(s)
    _logging(s)
    return run(s)


def cmd_ingest(args: argparse.Namespace) -> int:
    s = _service_settings()
    _multiproc_env(s)
    _logging(s)
    from helpline.ingest.daemon import main

    main(s)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    s = _service_settings()
    _multiproc_env(s)
    _logging(s)
    from helpline.ingest import worker_host

    return worker_host.run(s, args.processes or s.worker_processes, args.threads or s.worker_threads)


def cmd_scheduler(args: argparse.Namespace) -> int:
    s = _service_settings()
    _multiproc_env(s)
    _logging(s)
    _db(s)
    from helpline.store.storage import blobs
    from helpline.workers import actors, scheduler

    from helpline.ingest.intake import EmailIntake
    from helpline.ingest.spool import Spool

    intake = EmailIntake(
        s, blobs.open_store(s.blob_backend, s.effective_blob_dir), actors.submit, Spool(s.effective_spool_dir)
    )
    from helpline.ingest.public import register_parsers

    register_parsers(intake)  # spooled HTTP requests are drained here too, through their parser
    scheduler.run(s, {"spool": intake.drain_spool})
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    s = _settings(secret=False)
    _logging(s)
    _db(s)
    from helpline.store import migrations

    applied = migrations.upgrade()
    print(
        f"schema at version {migrations.current_version()}" + (f" (applied {applied})" if applied else " (up to date)")
    )
    return 0


def cmd_tickets(args: argparse.Namespace) -> int:
    s = _settings(secret=False)
    _db(s)
    from helpline.store.views import queries

    if args.action == "list":
        rows = queries.list_tickets(args.status, args.limit)
        if args.json:
            _print(rows, True)
        else:
            for r in rows:
                print(
                    f"{r['number']}  {r['status']:<16} {r['priority']:<7} {r['channel']:<6} "
                    f"{(r['customer']['name'] or '')[:20]:<20} {r['subject'][:60]}"
                )
            counts = queries.inbound_counts()
            if counts.get("failed") or counts.get("quarantined"):
                print(
                    f"inbound needing attention: failed={counts.get('failed', 0)} "
                    f"quarantined={counts.get('quarantined', 0)}",
                    file=sys.stderr,
                )
        return 0
    try:
        detail = queries.ticket_detail(args.number)
    except queries.TicketNotFound as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print(detail, True)
    else:
        print(f"{detail['number']}  [{detail['status']}/{detail['priority']}]  {detail['subject']}")
        print(f"customer: {detail['customer']['name']} {[i['address'] for i in detail['customer']['identities']]}")
        print(f"team: {detail['team'] or '-'}  assignee: {detail['assignee'] or '-'}")
        for c in detail.get("sla", []):  # the SLA clocks (router/sla.py)
            when = c["outcome"] or (f"due {c['due_at']}" if c["running"] else "paused")
            print(f"sla {c['target']}: {when} ({c['policy']})" + (" BREACHED" if c["breached_at"] else ""))
        for msg in detail["messages"]:
            print(f"\n--- {msg['direction']} {msg['created_at']} {msg['sender']} ---\n{msg['text']}")
        print("\nevents:")
        for e in detail["events"]:
            print(f"  {e['created_at']} {e['kind']} {json.dumps(e['data'], ensure_ascii=False)}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    s = _settings(secret=False)
    _db(s)
    from helpline.store.outbound.outbox_rows import list_rows

    rows = list_rows(args.status, args.limit)
    if args.json:
        _print(rows, True)
    else:
        if not s.smtp_relay:
            print("note: HELPLINE_SMTP_RELAY is not set; email waits here until it is", file=sys.stderr)
        for r in rows:
            print(
                f"{r['id']:>6} {r['status']:<10} {r['channel']:<6} {r['kind']:<6} {r['recipient']:<32} "
                f"attempts={r['attempts']} {r.get('last_error') or ''}"
            )
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from helpline.ingest.email.normalise import NotAnEmail, inspect_bytes

    try:
        with open(args.file, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        print(f"helpline: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    s = _settings(secret=False)
    try:
        env = inspect_bytes(raw, s.support_addresses)
    except NotAnEmail as exc:
        print(f"helpline: {args.file} is not an email: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print(env, True)
    else:
        print(f"From: {env['sender']['name']} <{env['sender']['address']}>\nSubject: {env['subject']}\n")
        print(env["text"])
        if env["warnings"]:
            print(f"\nwarnings: {', '.join(env['warnings'])}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.reference:
        from helpline.ingest.cli import config_check

        print(config_check.reference(), end="")
        return 0
    if args.check:
        from helpline.ingest.cli import config_check

        warnings = config_check.unknown_variables()
        for warning in warnings:
            print(f"warning: {warning}")
        config_check.check(_settings(secret=False))
        print("configuration ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))
        return 0
    s = _settings(secret=False)
    values = s.masked()
    if not os.environ.get("HELPLINE_SECRET_KEY") and not os.environ.get("HELPLINE_SECRET_KEY_FILE"):
        values["secret_key"] = f"(generated into {s.data_dir}/secret_key on first run)"
    if args.json:
        _print(values, True)
    else:
        for k, v in values.items():
            print(f"HELPLINE_{k.upper()}={','.join(map(str, v)) if isinstance(v, list) else v}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.import_mbox:
        from helpline.ingest.tools.import_bench import main as import_main

        return import_main(args)
    if args.search:
        from helpline.ingest.tools.search_bench import main as search_main

        return search_main(args)
    from helpline.ingest.tools.bench import main

    return main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helpline", description="Self-hosted support desk back end.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="everything in one process tree (embedded default)").set_defaults(fn=cmd_run)
    sub.add_parser("ingest", help="the ingest daemon (SMTP + HTTP)").set_defaults(fn=cmd_ingest)
    w = sub.add_parser("worker", help="Dramatiq workers")
    w.add_argument("--processes", type=int, default=0)
    w.add_argument("--threads", type=int, default=0)
    w.set_defaults(fn=cmd_worker)
    sub.add_parser("scheduler", help="sweeps and timers").set_defaults(fn=cmd_scheduler)
    d = sub.add_parser("db", help="database schema")
    d.add_argument("action", choices=["upgrade"])
    d.set_defaults(fn=cmd_db)
    t = sub.add_parser("tickets", help="list or show tickets")
    tsub = t.add_subparsers(dest="action", required=True)
    tl = tsub.add_parser("list")
    tl.add_argument("--status")
    tl.add_argument("--limit", type=int, default=100)
    tl.add_argument("--json", action="store_true")
    ts = tsub.add_parser("show")
    ts.add_argument("number")
    ts.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_tickets)
    o = sub.add_parser("outbox", help="outbound messages")
    osub = o.add_subparsers(dest="action", required=True)
    ol = osub.add_parser("list")
    ol.add_argument("--status")
    ol.add_argument("--limit", type=int, default=100)
    ol.add_argument("--json", action="store_true")
    o.set_defaults(fn=cmd_outbox)
    from helpline.ingest.cli.lifecycle_commands import register_outbox_release

    register_outbox_release(osub)  # outbox release: rows held after a restore
    i = sub.add_parser("inspect", help="show the envelope Helpline makes of a message")
    i.add_argument("kind", choices=["email"])
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=cmd_inspect)
    c = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    c.add_argument("--json", action="store_true")
    c.add_argument(
        "--check",
        action="store_true",
        help="check the whole configuration as `helpline run` does at start; exit 2 on an error",
    )
    c.add_argument("--reference", action="store_true", help="print every setting with its default (Markdown)")
    c.set_defaults(fn=cmd_config)
    b = sub.add_parser("bench", help="measure the pipeline end to end")
    b.add_argument("--messages", type=int, default=1000)
    b.add_argument("--concurrency", type=int, default=16)
    b.add_argument("--rate", type=float, default=0.0, help="fixed total send rate (messages/s), open loop")
    b.add_argument("--corpus", help="send the .eml files of this folder instead of generated mail")
    b.add_argument(
        "--channel",
        choices=("email", "sms", "webhook", "mixed"),
        default="email",
        help="what to send: mail over SMTP, Twilio-signed SMS webhooks, signed JSON to /api/v1/messages, or all in turn",
    )
    b.add_argument("--use-config", action="store_true", help="use the configured URLs instead of a temporary stack")
    b.add_argument(
        "--set",
        action="append",
        metavar="HELPLINE_NAME=VALUE",
        help="a setting of the temporary stack (repeatable), e.g. to measure with a stage switched off",
    )
    b.add_argument("--workers", type=int, default=0, help="worker processes of the temporary stack")
    b.add_argument("--threads", type=int, default=0, help="threads per worker process")
    b.add_argument("--timeout", type=float, default=600.0)
    b.add_argument("--json", action="store_true")
    b.add_argument("--search", action="store_true", help="measure search latency over a generated history instead")
    b.add_argument("--search-messages", type=int, default=20000, help="--search: messages to load (target 200000)")
    b.add_argument("--search-queries", type=int, default=360, help="--search: queries to time")
    b.add_argument(
        "--search-database",
        help="--search: a PostgreSQL URL (a new database is made and dropped); default: SQLite in a temporary folder",
    )
    b.add_argument(
        "--search-keep",
        metavar="NAME",
        help="--search: load into a database (PostgreSQL) or temporary file (SQLite) of this name and keep "
        "it; a later run with the same NAME and --search-messages reuses it instead of loading again",
    )
    b.add_argument("--search-target-ms", type=float, default=100.0, help="--search: exit 1 when p95 is above")
    b.add_argument(
        "--search-explain",
        type=int,
        default=0,
        metavar="N",
        help="--search: also print the N slowest queries with their statements and the plan of the slowest "
        "(EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL), to stderr",
    )
    b.add_argument("--seed", type=int, default=7)
    from helpline.ingest.tools.import_bench import add_arguments as add_import_bench_arguments

    add_import_bench_arguments(b)
    b.set_defaults(fn=cmd_bench)
    from helpline.ingest.cli.model_commands import register as register_model_commands

    register_model_commands(sub)
    from helpline.ingest.cli.routing_commands import register as register_routing_commands

    register_routing_commands(sub, tsub)  # teams, agents; tickets assign|transfer|status|priority|merge
    from helpline.ingest.cli.customer_commands import register as register_customer_commands

    register_customer_commands(sub)  # customers list|show|link|unlink
    from helpline.ingest.cli.duplicate_commands import register as register_duplicate_commands

    register_duplicate_commands(sub, tsub)  # tickets split; incidents list|show|reply|resolve
    from helpline.ingest.cli.reply_commands import register as register_reply_commands

    register_reply_commands(tsub)  # tickets reply|note|undo --actor
    from helpline.ingest.cli.spam_commands import register as register_spam_commands

    register_spam_commands(sub, tsub)  # tickets not-spam; blocklist add|remove|list
    from helpline.ingest.cli.api_key_commands import register as register_api_key_commands

    register_api_key_commands(sub)
    from helpline.ingest.cli.explain_command import register as register_explain_command

    register_explain_command(sub)
    from helpline.ingest.cli.report_command import register as register_report_command

    register_report_command(sub)
    from helpline.ingest.cli.imap_commands import register as register_imap_commands

    register_imap_commands(sub)  # imap status
    from helpline.ingest.cli.lifecycle_commands import register_top_level as register_lifecycle_commands

    register_lifecycle_commands(sub)  # retention, backup, restore, outbox release
    from helpline.ingest.cli.kb_commands import register as register_kb_commands

    register_kb_commands(sub)  # kb sync|list|show|suggest
    from helpline.ingest.cli.search_commands import register as register_search_commands

    register_search_commands(sub, tsub)  # search "…" | reindex | misses; tickets tag
    from helpline.ingest.cli.pii_commands import register as register_pii_commands

    register_pii_commands(sub)  # pii eval|mask
    from helpline.ingest.cli.import_commands import register as register_import_commands

    register_import_commands(sub)  # import mbox|maildir|eml
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from helpline.store.config import ConfigError

    try:
        return int(args.fn(args) or 0)
    except ConfigError as exc:
        print(f"helpline: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `helpline tickets list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
