"""``helpline customers list|show|link|unlink``: the operator's view of customers
and the one way to say that two addresses are one person.

Identities are normalised as the channels normalise them (lower-cased email,
E.164 phone numbers), so a linked number matches the texts that arrive.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from helpline.ingest.cli.routing_commands import _actor  # the --actor default every operator command shares

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _identity(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, normalised address) from --email/--phone/--slack/--external, or exit 2 with why."""
    from helpline.ingest.channels.webhook_message import normalise_phone

    given = [
        (k, v)
        for k, v in (("email", args.email), ("phone", args.phone), ("slack", args.slack), ("external", args.external))
        if v
    ]
    if len(given) != 1:
        raise SystemExit("give exactly one of --email, --phone, --slack, --external")
    kind, value = given[0]
    value = value.strip()
    if kind == "email":
        if value.count("@") != 1 or " " in value or not value.rpartition("@")[2]:
            raise SystemExit(f"--email {value!r} is not an email address")
        return kind, value.lower()
    if kind == "phone":
        try:
            return kind, normalise_phone(value)
        except ValueError as exc:
            raise SystemExit(f"--phone {value!r} {exc}") from None
    if kind == "slack" and not _SLACK_USER.match(value):
        raise SystemExit(f"--slack {value!r} is not a Slack user id (like U012AB3CD)")
    return kind, value


def _print(view: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(view.as_dict(), ensure_ascii=False))
        return
    ids = ", ".join(f"{k}:{a}" for k, a in view.identities) or "-"
    print(f"{view.id:>6}  {view.name or '-':<28} {view.tier:<10} tickets={view.tickets:<4} {ids}")


def run(args: argparse.Namespace) -> int:
    from helpline.store import config, db
    from helpline.store.tickets import customers

    s = config.load()
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    try:
        if args.customers_action == "list":
            found = customers.search(args.search or "", args.limit)
            if args.json:
                print(json.dumps([c.as_dict() for c in found], ensure_ascii=False))
            for c in found if not args.json else ():
                _print(c, False)
        elif args.customers_action == "show":
            _print(customers.get(args.customer), args.json)
        elif args.customers_action == "link":
            kind, address = _identity(args)
            done = customers.link(args.customer, kind, address, actor=_actor(args), reason=args.reason or "")
            print(
                f"{kind} {address} {'linked to' if done == 'linked' else 'already belongs to'} customer {args.customer}"
            )
        else:
            kind, address = _identity(args)
            customers.unlink(args.customer, kind, address, actor=_actor(args), reason=args.reason or "")
            print(f"{kind} {address} unlinked from customer {args.customer}")
    except customers.CustomerError as exc:
        print(f"helpline customers: {exc}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: Any) -> None:
    c = subparsers.add_parser("customers", help="customers and their identities; link an address to a customer")
    csub = c.add_subparsers(dest="customers_action", required=True)
    li = csub.add_parser("list", help="customers, newest first")
    li.add_argument("--search", help="part of a name, email address, phone number or Slack id")
    li.add_argument("--limit", type=int, default=50)
    li.add_argument("--json", action="store_true")
    sh = csub.add_parser("show")
    sh.add_argument("customer", type=int)
    sh.add_argument("--json", action="store_true")
    from helpline.ingest.cli.lifecycle_commands import customer_action, register_customer_actions

    for name, what in (
        ("link", "attach an identity to the customer (an agent's decision; audited)"),
        ("unlink", "detach one of the customer's identities (audited)"),
    ):
        p = customer_action(csub, name, what, by_address=False)
        p.add_argument("--email")
        p.add_argument("--phone", help="E.164, e.g. +4930123456")
        p.add_argument("--slack", help="Slack user id")
        p.add_argument("--external", help="an app's user id, as source:id")
        p.add_argument("--reason")
    c.set_defaults(fn=run)
    register_customer_actions(csub)  # export, erase, hold
