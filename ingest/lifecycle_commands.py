"""``helpline customers export|erase|hold``: a customer's right of access and of erasure, and legal holds.

The customer is given by id or by one of their addresses. Output names ids
and counts, never the content; the erase report lists the Slack messages the
bot could not overwrite (channel:ts) for a workspace admin to remove.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .routing_commands import _actor


def _open(args: argparse.Namespace):  # noqa: ANN202
    from helpline.store import config, db

    s = config.ensure_secret_key(config.load())
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    return s


def _confirm(prompt: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print("helpline customers erase: refusing without --yes (stdin is not a terminal)", file=sys.stderr)
        return False
    return input(prompt).strip().lower() in ("y", "yes")


def run_export(args: argparse.Namespace) -> int:
    from helpline.store import blobs
    from helpline.store.customers import CustomerError
    from helpline.store.lifecycle import export, lookup

    s = _open(args)
    try:
        cid = lookup.resolve(args.customer)
        got = export.export_customer(cid, args.out, blobs.open_store(s.blob_backend, s.effective_blob_dir),
                                     actor=_actor(args))
    except (CustomerError, export.ExportError) as exc:
        print(f"helpline customers export: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(got.as_dict()) if args.json else
          f"customer {cid}: {got.tickets} tickets, {got.messages} messages, {got.attachments} files -> {got.path}"
          + (f" ({got.missing_blobs} files no longer kept)" if got.missing_blobs else ""))
    return 0


def run_erase(args: argparse.Namespace) -> int:
    from helpline.store.customers import CustomerError
    from helpline.store.lifecycle import lookup
    from helpline.workers import customer_erasure

    s = _open(args)
    try:
        cid = lookup.resolve(args.customer)
    except CustomerError as exc:
        print(f"helpline customers erase: {exc}", file=sys.stderr)
        return 1
    if not _confirm(f"Erase customer {cid} and everything that identifies them? This cannot be undone [y/N] ",
                    args.yes):
        return 1
    try:
        report = customer_erasure.erase(s, cid, actor=_actor(args))
    except CustomerError as exc:
        print(f"helpline customers erase: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"customer {cid} erased: {report['tickets']} tickets, {report['messages']} messages, "
          f"{report['attachments']} attachments, {report['identities']} identities, "
          f"{report['blobs_deleted']} files deleted; {report['free_space']}; redis: {report['redis_aof']}")
    prov = report["provider_tasks_by_status"]
    if prov:
        print("provider clean-up: " + ", ".join(f"{k}={v}" for k, v in sorted(prov.items()))
              + (" (run the erase again to retry the failed ones)" if prov.get("failed") or prov.get("pending") else ""))
    if report["slack_messages_for_admin"]:
        print("Slack messages the bot cannot edit; a workspace admin must delete them (channel:ts):")
        for ref in report["slack_messages_for_admin"]:
            print(f"  {ref}")
    return 0


def run_hold(args: argparse.Namespace) -> int:
    from helpline.store.customers import CustomerError
    from helpline.store.lifecycle import holds, lookup

    _open(args)
    if args.on == args.off:
        print("helpline customers hold: give --on or --off", file=sys.stderr)
        return 2
    try:
        cid = lookup.resolve(args.customer)
        done = holds.set_hold(cid, bool(args.on), actor=_actor(args), reason=args.reason or "")
    except CustomerError as exc:
        print(f"helpline customers hold: {exc}", file=sys.stderr)
        return 1
    print(f"customer {cid}: legal hold {'on' if args.on else 'off'}" + (" (unchanged)" if done == "unchanged" else ""))
    return 0


def register_customer_actions(csub: Any) -> None:
    """Add export, erase and hold to ``helpline customers``."""
    ex = csub.add_parser("export", help="everything about a customer as a zip of JSON and files (audited)")
    ex.add_argument("customer", help="customer id or one of their addresses")
    ex.add_argument("--out", required=True, help="the .zip file to write")
    ex.add_argument("--actor")
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(fn=run_export)
    er = csub.add_parser("erase", help="erase everything that identifies a customer (irreversible; audited)")
    er.add_argument("customer", help="customer id or one of their addresses")
    er.add_argument("--yes", action="store_true", help="do not ask")
    er.add_argument("--actor")
    er.add_argument("--json", action="store_true")
    er.set_defaults(fn=run_erase)
    ho = csub.add_parser("hold", help="set or lift a legal hold (no erasure, no retention while on)")
    ho.add_argument("customer", help="customer id or one of their addresses")
    ho.add_argument("--on", action="store_true")
    ho.add_argument("--off", action="store_true")
    ho.add_argument("--reason")
    ho.add_argument("--actor")
    ho.set_defaults(fn=run_hold)


def run_retention(args: argparse.Namespace) -> int:
    from helpline.store.config_file import ConfigFileError
    from helpline.workers import retention_job

    s = _open(args)
    try:
        got = retention_job.run_once(s, dry_run=args.dry_run, holder=f"cli:{_actor(args)}")
    except ConfigFileError as exc:
        print(f"helpline retention: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(got))
        return 0
    if "skipped" in got:
        print(f"retention: {got['skipped']}")
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(f"retention {verb}: " + (", ".join(f"{k}={v}" for k, v in sorted(got["counts"].items())) or "nothing"))
    for kind, items in got.get("items", {}).items():
        for item in items:
            print(f"  {kind}: {item}")
    return 0


def register_top_level(sub: Any) -> None:
    """``helpline retention``."""
    r = sub.add_parser("retention", help="apply the retention policies of the configuration file now")
    r.add_argument("--dry-run", action="store_true", help="list what would be removed; change nothing")
    r.add_argument("--actor")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=run_retention)
