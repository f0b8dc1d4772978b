"""``helpline tickets split`` and ``helpline incidents list|show|reply|resolve``.

A split undoes a merge (``helpline tickets merge``): what moved goes back and
the source is active again. ``incidents reply`` sends one answer to every open
ticket of an incident, each on its own channel; the senders pick the outbox
rows up as they do any reply. ``--key`` names the answer so that running the
same command twice sends nothing twice (default: a hash of the text).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any

from helpline.ingest.cli.routing_commands import Acting, _acting, _each, _print_json, _settings


def cmd_split(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import ticket_split

    def op(t: Any, now: Any, a: Acting) -> str:
        target = ticket_split.split(t, now=now, settings=a.settings, actor=a.actor, reason=args.reason)
        return f"split from {target} ({t.status})"

    return _each(args, "merge", op)  # merge and split are one permission


def cmd_detach(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import ticket_detach

    args.numbers = [args.number]

    def op(t: Any, now: Any, a: Acting) -> str:
        done = ticket_detach.detach(t, args.message, now=now, settings=a.settings, actor=a.actor, reason=args.reason)
        back = f"; {t.number} is {done.status_restored} again" if done.status_restored else ""
        return f"message {args.message} is now {done.number}{back}"

    return _each(args, "merge", op)  # detaching undoes a (near-duplicate) join: the merge permission


def _incident(ref: str) -> int | None:
    from helpline.store.tickets import similarity_state as state
    from helpline.store.db import run_tx

    iid = state.incident_id_of(ref)
    if iid is None or run_tx(lambda: state.get_incident(iid), durable=False) is None:
        print(f"helpline incidents: no incident {ref!r}; `helpline incidents list` shows them", file=sys.stderr)
        return None
    return iid


def cmd_incidents(args: argparse.Namespace) -> int:
    from helpline.store.tickets import similarity_state as state
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow

    s = _settings()
    if args.incidents_action == "list":
        rows = run_tx(lambda: state.list_incidents(None if args.all else "open"), durable=False)
        if args.json:
            _print_json(rows)
        else:
            for r in rows:
                print(
                    f"{r['incident']}  {r['status']:<8} tickets={r['tickets']:<4} customers={r['customers']:<4} "
                    f"{r['created_at'][:19]}  {r['title']}"
                )
            if not rows:
                print("no open incidents")
        return 0
    iid = _incident(args.incident)
    if iid is None:
        return 1
    if args.incidents_action == "show":
        data = run_tx(lambda: {**state.get_incident(iid), "tickets": state.incident_tickets(iid)}, durable=False)
        if args.json:
            _print_json(data)
        else:
            print(f"{data['incident']}  {data['status']}  {data['title']}")
            for t in data["tickets"]:
                print(f"  {t['ticket']}  {t['status']:<16} {t['channel']:<6} {t['similarity']:.2f}  {t['subject']}")
        return 0
    if args.incidents_action == "resolve":
        run_tx(lambda: state.set_incident_status(iid, "resolved", utcnow()))
        print(f"{state.incident_number(iid)}: resolved (its tickets keep their own status)")
        return 0
    from helpline.workers.tickets import incidents
    from helpline.store.inbound import audit_events

    text = args.text if args.text is not None else sys.stdin.read()
    if not text.strip():
        print("helpline incidents reply: the reply text is empty (--text, or on standard input)", file=sys.stderr)
        return 2
    key = args.key or hashlib.sha256(text.encode()).hexdigest()[:16]
    who, actor = _acting(args)
    from helpline.router.permissions import PermissionDenied, require

    try:
        require(who, "reply")
    except PermissionDenied as exc:
        print(f"helpline incidents reply: refused: {exc}", file=sys.stderr)
        return 1
    agent = args.agent or (who.name if args.actor else "")  # an agent acting answers under their own name

    def tx() -> incidents.FanOut:
        with audit_events.buffered_events():
            return incidents.reply(iid, text, agent=agent, actor=actor, reply_key=key, settings=s, now=utcnow())

    out = run_tx(tx)
    if args.json:
        _print_json({"incident": state.incident_number(iid), "key": key, "sent": out.sent, "skipped": out.skipped})
    else:
        for r in out.sent:
            print(f"{r['ticket']}: reply queued by {r['channel']} to {r['to']}")
        for r in out.skipped:
            print(f"{r['ticket']}: skipped: {r['reason']}")
    return 0


def register(subparsers: Any, tickets: Any) -> None:
    """Add ``tickets split`` and ``incidents`` to the ``helpline`` parser."""
    p = tickets.add_parser("split", help="undo the merge of tickets: they become active again with what they had")
    p.add_argument("numbers", nargs="+", metavar="NUMBER", help="merged tickets (the sources of merges)")
    p.add_argument("--reason", default="", help="recorded in the audit event")
    p.add_argument(
        "--actor",
        default="",
        metavar="EMAIL",
        help="the agent doing it: their role must allow it (default: the operator, as admin)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_split)

    d = tickets.add_parser("detach", help="a message joined to a ticket as a near-duplicate becomes its own ticket")
    d.add_argument("number", metavar="NUMBER", help="the ticket the message joined")
    d.add_argument("message", type=int, metavar="MESSAGE", help="the message's id (`tickets show NUMBER --json`)")
    d.add_argument("--reason", default="", help="recorded in the audit events")
    d.add_argument(
        "--actor",
        default="",
        metavar="EMAIL",
        help="the agent doing it: their role must allow merges (default: the operator, as admin)",
    )
    d.add_argument("--json", action="store_true")
    d.set_defaults(fn=cmd_detach)

    i = subparsers.add_parser("incidents", help="incidents: many customers reporting one problem")
    isub = i.add_subparsers(dest="incidents_action", required=True)
    il = isub.add_parser("list", help="open incidents (--all: resolved ones too)")
    il.add_argument("--all", action="store_true")
    il.add_argument("--json", action="store_true")
    ish = isub.add_parser("show", help="an incident and its tickets")
    ish.add_argument("incident", help="INC-000001 or 1")
    ish.add_argument("--json", action="store_true")
    ir = isub.add_parser("reply", help="one answer to every open ticket of the incident, each on its channel")
    ir.add_argument("incident")
    ir.add_argument("--text", help="the answer (default: standard input)")
    ir.add_argument("--agent", default="", help="the agent's name under the answer")
    ir.add_argument("--key", default="", help="names this answer; the same key never sends twice")
    ir.add_argument(
        "--actor",
        default="",
        metavar="EMAIL",
        help="the agent answering: their role must allow it (default: the operator, as admin)",
    )
    ir.add_argument("--json", action="store_true")
    irs = isub.add_parser("resolve", help="mark the incident resolved")
    irs.add_argument("incident")
    i.set_defaults(fn=cmd_incidents)
