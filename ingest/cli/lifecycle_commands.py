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

from helpline.ingest.cli.routing_commands import _actor


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
    from helpline.store.storage import blobs
    from helpline.store.tickets.customers import CustomerError
    from helpline.store.lifecycle import export, lookup

    s = _open(args)
    try:
        cid = lookup.resolve(args.customer)
        got = export.export_customer(
            cid, args.out, blobs.open_store(s.blob_backend, s.effective_blob_dir), actor=_actor(args)
        )
    except (CustomerError, export.ExportError) as exc:
        print(f"helpline customers export: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(got.as_dict())
        if args.json
        else f"customer {cid}: {got.tickets} tickets, {got.messages} messages, {got.attachments} files -> {got.path}"
        + (f" ({got.missing_blobs} files no longer kept)" if got.missing_blobs else "")
    )
    return 0


def run_erase(args: argparse.Namespace) -> int:
    from helpline.store.tickets.customers import CustomerError
    from helpline.store.lifecycle import lookup
    from helpline.workers.tickets import customer_erasure

    s = _open(args)
    try:
        cid = lookup.resolve(args.customer)
    except CustomerError as exc:
        print(f"helpline customers erase: {exc}", file=sys.stderr)
        return 1
    if not _confirm(
        f"Erase customer {cid} and everything that identifies them? This cannot be undone [y/N] ", args.yes
    ):
        return 1
    try:
        report = customer_erasure.erase(s, cid, actor=_actor(args))
    except CustomerError as exc:
        print(f"helpline customers erase: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"customer {cid} erased: {report['tickets']} tickets, {report['messages']} messages, "
        f"{report['attachments']} attachments, {report['identities']} identities, "
        f"{report['blobs_deleted']} files deleted; {report['free_space']}; redis: {report['redis_aof']}"
    )
    prov = report["provider_tasks_by_status"]
    if prov:
        print(
            "provider clean-up: "
            + ", ".join(f"{k}={v}" for k, v in sorted(prov.items()))
            + (" (run the erase again to retry the failed ones)" if prov.get("failed") or prov.get("pending") else "")
        )
    if report["slack_messages_for_admin"]:
        print("Slack messages the bot cannot edit; a workspace admin must delete them (channel:ts):")
        for ref in report["slack_messages_for_admin"]:
            print(f"  {ref}")
    return 0


def run_hold(args: argparse.Namespace) -> int:
    from helpline.store.tickets.customers import CustomerError
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


def customer_action(csub: Any, name: str, help: str, *, by_address: bool = True) -> argparse.ArgumentParser:
    """A ``helpline customers NAME`` subcommand on one customer (by id; with ``by_address`` also by one of their
    addresses), with the ``--actor`` its audit event names."""
    p: argparse.ArgumentParser = csub.add_parser(name, help=help)
    if by_address:
        p.add_argument("customer", help="customer id or one of their addresses")
    else:
        p.add_argument("customer", type=int)
    p.add_argument("--actor")
    return p


def register_customer_actions(csub: Any) -> None:
    """Add export, erase and hold to ``helpline customers``."""
    ex = customer_action(csub, "export", "everything about a customer as a zip of JSON and files (audited)")
    ex.add_argument("--out", required=True, help="the .zip file to write")
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(fn=run_export)
    er = customer_action(csub, "erase", "erase everything that identifies a customer (irreversible; audited)")
    er.add_argument("--yes", action="store_true", help="do not ask")
    er.add_argument("--json", action="store_true")
    er.set_defaults(fn=run_erase)
    ho = customer_action(csub, "hold", "set or lift a legal hold (no erasure, no retention while on)")
    ho.add_argument("--on", action="store_true")
    ho.add_argument("--off", action="store_true")
    ho.add_argument("--reason")
    ho.set_defaults(fn=run_hold)
    register_reapply(csub)


def run_retention(args: argparse.Namespace) -> int:
    from helpline.store.siteconfig.config_file import ConfigFileError
    from helpline.workers.jobs import retention_job

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
    register_backup(sub)


# ---- backup and restore ------------------------------------------------------------------
BACKUP_NAME = "helpline-%Y%m%dT%H%M%SZ.hlbak"


def _rotate(folder: str, keep: int) -> list[str]:
    """Delete the oldest backups of ``folder`` beyond ``keep`` (only files named as ``--out-dir`` names them)."""
    import re
    from pathlib import Path

    mine = sorted(
        p for p in Path(folder).iterdir() if re.fullmatch(r"helpline-\d{8}T\d{6}Z\.hlbak", p.name) and p.is_file()
    )
    gone = mine[:-keep] if keep > 0 else []
    for p in gone:
        p.unlink()
    return [p.name for p in gone]


def run_backup(args: argparse.Namespace) -> int:
    from helpline.store import config, db, migrations
    from helpline.store.lifecycle import backup
    from helpline.store.lifecycle.backup_crypto import BackupError

    s = config.load()
    if args.action == "verify":
        if not args.file:
            print("helpline backup verify: give the backup file", file=sys.stderr)
            return 2
        try:
            checked = backup.verify(args.file, passphrase=s.backup_passphrase, secret_keys=_keys_for_reading(s))
        except BackupError as exc:
            print(f"helpline backup verify: {exc}", file=sys.stderr)
            return 1
        print(
            json.dumps(checked)
            if args.json
            else f"ok: {checked['engine']} backup of {checked['created_at']}, {checked['blobs']} blobs, "
            f"keys {'inside' if checked['keys_included'] else 'not inside'}"
        )
        return 0
    if bool(args.out) == bool(args.out_dir):
        print("helpline backup: give --out FILE or --out-dir DIR", file=sys.stderr)
        return 2
    s = config.ensure_secret_key(s)
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    import datetime as dt
    import os

    out = args.out or os.path.join(args.out_dir, dt.datetime.now(dt.timezone.utc).strftime(BACKUP_NAME))
    if not s.backup_passphrase:
        print(
            "note: no HELPLINE_BACKUP_PASSPHRASE: the secret keys are left out of this backup; restoring it "
            "needs the same HELPLINE_SECRET_KEY",
            file=sys.stderr,
        )
    try:
        got = backup.create(s, out, passphrase=s.backup_passphrase, schema_version=migrations.current_version())
    except BackupError as exc:
        print(f"helpline backup: {exc}", file=sys.stderr)
        return 1
    rotated = _rotate(args.out_dir, args.keep) if args.out_dir and args.keep else []
    if args.json:
        print(json.dumps({**got.as_dict(), "rotated": rotated}))
    else:
        print(
            f"backup written: {got.path} ({got.size} bytes, {got.engine}, {got.blobs} blobs, "
            f"keys {'inside' if got.keys_included else 'left out'})"
        )
        for name in rotated:
            print(f"rotated out: {name}")
    if got.missing_blobs:
        print(f"warning: {len(got.missing_blobs)} blobs named by the database were missing", file=sys.stderr)
    return 0


def _keys_for_reading(s) -> tuple[str, ...]:  # noqa: ANN001
    """The configured keys, or the data directory's generated one; never a new one."""
    import os

    if s.secret_key:
        return s.secret_key
    path = os.path.join(s.data_dir, "secret_key")
    return (open(path).read().strip(),) if os.path.exists(path) else ()


def run_restore(args: argparse.Namespace) -> int:
    import os

    from helpline.store import config
    from helpline.store.lifecycle import ledger, restore
    from helpline.store.lifecycle.backup_crypto import BackupError

    s = config.load()
    s = s.replace(secret_key=_keys_for_reading(s))
    ledgers = list(args.ledger or [])
    default = ledger.ledger_path(s)
    if os.path.exists(default) and default not in ledgers:
        ledgers.append(default)
    try:
        got = restore.restore(s, args.file, passphrase=s.backup_passphrase, ledger_files=ledgers)
    except BackupError as exc:
        print(f"helpline restore: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(got.as_dict()))
        return 0
    print(
        f"restored the {got.engine} backup of {got.created_at}: {got.blobs} blobs"
        + ("; secret keys restored into the data directory" if got.keys_restored else "")
    )
    if got.erasures_reapplied:
        print(f"erasure ledger: {got.erasures_reapplied} customers erased again")
    if got.outbox_held:
        print(
            f"{got.outbox_held} outbox rows were pending or being sent at backup time; they are held: check "
            "`helpline outbox list --status held`, then `helpline outbox release`"
        )
    return 0


def run_outbox_release(args: argparse.Namespace) -> int:
    from helpline.store import config, db
    from helpline.store.lifecycle import backup

    s = config.load()
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    n = db.run_tx(lambda: backup.release_outbox(args.ids or ()))
    print(f"{n} held outbox rows released")
    return 0


def register_outbox_release(osub: Any) -> None:
    rel = osub.add_parser("release", help="send the rows held after a restore (all, or the given ids)")
    rel.add_argument("ids", nargs="*", type=int)
    rel.set_defaults(fn=run_outbox_release)


def register_backup(sub: Any) -> None:
    b = sub.add_parser("backup", help="a consistent, encrypted backup while Helpline runs; `backup verify FILE`")
    b.add_argument("action", nargs="?", choices=["verify"], help="verify FILE: check a backup without restoring")
    b.add_argument("file", nargs="?")
    b.add_argument("--out", help="the backup file to write")
    b.add_argument("--out-dir", help="write helpline-TIMESTAMP.hlbak into this folder")
    b.add_argument("--keep", type=int, default=0, help="with --out-dir: keep this many newest backups")
    b.add_argument("--json", action="store_true")
    b.set_defaults(fn=run_backup)
    r = sub.add_parser("restore", help="restore a backup into an empty data directory or database")
    r.add_argument("file")
    r.add_argument("--ledger", action="append", help="an erasure ledger file to re-apply (repeatable)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=run_restore)


def run_reapply(args: argparse.Namespace) -> int:
    """Erase again every customer a ledger names (after a point-in-time recovery)."""
    from helpline.store import db
    from helpline.store.storage import blobs
    from helpline.store.lifecycle import backup, erasure, ledger

    s = _open(args)
    hashes = db.run_tx(ledger.table_hashes, durable=False)
    for f in args.ledger:
        hashes |= ledger.read_file(f)
    store = blobs.open_store(s.blob_backend, s.effective_blob_dir)
    ids = db.run_tx(lambda: backup.customers_to_erase(hashes), durable=False)
    for cid in ids:
        erasure.erase_customer(cid, store, actor=_actor(args), ledger_file=ledger.ledger_path(s), reapply=True)
    print(f"{len(ids)} customers erased again from the ledger")
    return 0


def register_reapply(csub: Any) -> None:
    ra = csub.add_parser("reapply-ledger", help="erase again every customer an erasure ledger names")
    ra.add_argument("ledger", nargs="*", help="ledger files (the database's own ledger is always read)")
    ra.add_argument("--actor")
    ra.set_defaults(fn=run_reapply)
