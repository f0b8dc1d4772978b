"""``helpline imap status [--json]``: how each configured mailbox is doing, for people and monitoring.

Per mailbox (account and folder): the last poll that finished, the last import
and how many messages came in the last hour, the last UID and UIDVALIDITY, who
holds the lease and until when, and the last error with its time. The exit
status is 1 when any mailbox has an error newer than its last success (or an
error and no success at all), so ``helpline imap status`` can be a monitoring
check as it is; 2 for a configuration error. Read from the database, so it
shows what every ingest daemon did, not only one on this host.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any


def _iso(value: Any) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if isinstance(value, dt.datetime) else None


def _ago(value: Any, now: dt.datetime) -> str:
    if not isinstance(value, dt.datetime):
        return "never"
    s = max(0, int((now - value).total_seconds()))
    span = f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h" if s < 172800 else f"{s // 86400}d"
    return f"{_iso(value)} ({span} ago)"


def state_of(row: dict[str, Any]) -> str:
    """ok, error (an error newer than the last success) or never (no poll finished yet, no error either)."""
    success, error_at = row.get("last_success_at"), row.get("last_error_at")
    if error_at is not None and (success is None or error_at > success):
        return "error"
    return "ok" if success is not None else "never"


def mailbox_status(accounts: list[Any], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One dict per configured mailbox (``ImapAccount``), times as naive UTC datetimes."""
    from helpline.store.channels import imap_state

    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    keys = [a.key for a in accounts]
    rows = imap_state.status_rows(keys)
    hour = imap_state.imported_since(keys, 3600, now.replace(tzinfo=dt.timezone.utc).timestamp())
    out = []
    for a in accounts:
        row = dict(rows.get(a.key, {}))
        expires = row.get("lease_expires_at")
        if isinstance(expires, dt.datetime) and expires < now:
            row["lease_holder"] = row["lease_expires_at"] = None  # ran out: nobody holds it
        out.append(
            {
                "mailbox": a.key,
                "user": a.user,
                "host": a.host,
                "port": a.port,
                "folder": a.folder,
                "state": state_of(row),
                "last_success_at": row.get("last_success_at"),
                "last_import_at": row.get("last_import_at"),
                "imported_last_hour": hour.get(a.key, 0),
                "last_uid": row.get("last_uid"),
                "uidvalidity": row.get("uidvalidity"),
                "lease_holder": row.get("lease_holder"),
                "lease_expires_at": row.get("lease_expires_at"),
                "last_error": row.get("last_error") or None,
                "last_error_at": row.get("last_error_at"),
            }
        )
    return out


def cmd_status(args: argparse.Namespace) -> int:
    from helpline.store import config, db

    from helpline.ingest.channels.imap_poller import accounts_from_settings

    s = config.load()
    accounts = accounts_from_settings(s)
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = mailbox_status(accounts, now)
    bad = [r for r in rows if r["state"] == "error"]
    if args.json:
        print(
            json.dumps(
                [{k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in r.items()} for r in rows],
                indent=2,
                ensure_ascii=False,
            )
        )
        return 1 if bad else 0
    if not rows:
        print("no mailboxes configured (HELPLINE_IMAP_ACCOUNTS or [[imap.accounts]] in HELPLINE_CONFIG_FILE)")
        return 0
    for r in rows:
        print(f"{r['mailbox']}  {r['state'].upper()}")
        print(f"  last success   {_ago(r['last_success_at'], now)}")
        print(
            f"  imported       {r['imported_last_hour']} in the last hour; last import {_ago(r['last_import_at'], now)}"
        )
        print(
            "  progress       "
            + (
                f"last uid {r['last_uid']}, uidvalidity {r['uidvalidity']}"
                if r["uidvalidity"] is not None
                else "none yet"
            )
        )
        print(
            "  lease          "
            + (f"{r['lease_holder']} until {_iso(r['lease_expires_at'])}" if r["lease_holder"] else "free")
        )
        if r["last_error"]:
            print(f"  last error     {_ago(r['last_error_at'], now)}: {r['last_error']}")
    if bad:
        print(f"{len(bad)} of {len(rows)} mailbox(es) failing since their last success", file=sys.stderr)
    return 1 if bad else 0


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    p = sub.add_parser("imap", help="IMAP mailboxes")
    isub = p.add_subparsers(dest="action", required=True)
    st = isub.add_parser(
        "status", help="per mailbox: last success, imports, progress, lease, last error; exits 1 when one is failing"
    )
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=cmd_status)
