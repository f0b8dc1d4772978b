"""``helpline tickets not-spam NUMBER`` and ``helpline blocklist add|remove|list``.

Spam is kept, never dropped (``workers/tickets/spam_stage.py``): ``helpline tickets
list --status spam`` lists it for review, ``not-spam`` releases a ticket into
the normal flow. The block list is the TOML file's ``[blocklist]`` plus the
entries added here (stored in the database, so every worker sees them at once).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from helpline.ingest.cli.routing_commands import Acting, _acting, _each, _print_json, _settings


def cmd_not_spam(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import spam_stage

    def op(t: Any, now: Any, a: Acting) -> str:
        spam_stage.release(t, now=now, settings=a.settings, actor=a.actor)
        return f"released: not spam, now {t.status} in the normal flow"

    return _each(args, "status", op)


def cmd_blocklist(args: argparse.Namespace) -> int:
    from helpline.store.inbound import blocklist
    from helpline.store.siteconfig import config_file
    from helpline.store.db import run_tx

    s = _settings()
    if args.blocklist_action == "list":
        cfg = config_file.site_config(s)
        rows = [{"kind": "sender", "value": v, "source": cfg.source} for v in cfg.blocked_senders]
        rows += [{"kind": "domain", "value": v, "source": cfg.source} for v in cfg.blocked_domains]
        rows += [
            {
                "kind": e.kind,
                "value": e.value,
                "source": "database",
                "reason": e.reason,
                "added_by": e.added_by,
                "created_at": str(e.created_at),
            }
            for e in run_tx(blocklist.stored, durable=False)
        ]
        if args.json:
            _print_json(rows)
        else:
            for r in rows:
                extra = f"  {r.get('reason', '')}" if r.get("reason") else ""
                print(f"{r['kind']:<7} {r['value']:<40} {r['source']}{extra}")
            if not rows:
                print("the block list is empty")
        return 0
    who, actor = _acting(args)
    from helpline.router.permissions import PermissionDenied, require

    try:
        require(who, "api_keys")  # a desk-wide setting: an admin's
    except PermissionDenied as exc:
        print(f"helpline blocklist: refused: {exc}", file=sys.stderr)
        return 2
    try:
        if args.blocklist_action == "add":
            entry, new = run_tx(lambda: blocklist.add(args.value, reason=args.reason, added_by=actor))
            print(f"{entry.kind} {entry.value}: " + ("blocked: its mail goes to spam" if new else "already blocked"))
            return 0
        if run_tx(lambda: blocklist.remove(args.value)):
            print(f"{args.value.strip().lower()}: removed")
            return 0
    except ValueError as exc:
        print(f"helpline blocklist: {exc}", file=sys.stderr)
        return 2
    print(
        f"helpline blocklist: {args.value!r} is not in the database's block list (entries of the TOML file's "
        "[blocklist] are removed there)",
        file=sys.stderr,
    )
    return 1


def register(subparsers: Any, tickets: Any) -> None:
    """Add ``tickets not-spam`` and ``blocklist`` to the ``helpline`` parser."""
    p = tickets.add_parser("not-spam", help="release tickets filed as spam into the normal flow")
    p.add_argument("numbers", nargs="+", metavar="NUMBER")
    p.add_argument("--actor", default="", metavar="EMAIL", help="the agent doing it (default: the operator, as admin)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_not_spam)
    b = subparsers.add_parser("blocklist", help="senders and domains whose mail goes to spam")
    bsub = b.add_subparsers(dest="blocklist_action", required=True)
    for action, what in (("add", "block an address or a domain (its subdomains too)"), ("remove", "unblock")):
        x = bsub.add_parser(action, help=what)
        x.add_argument("value", metavar="ADDRESS_OR_DOMAIN")
        if action == "add":
            x.add_argument("--reason", default="", help="kept with the entry")
        x.add_argument("--actor", default="", metavar="EMAIL", help="an admin agent (default: the operator)")
    bl = bsub.add_parser("list", help="the block list: the TOML file's and the database's entries")
    bl.add_argument("--json", action="store_true")
    b.set_defaults(fn=cmd_blocklist)
