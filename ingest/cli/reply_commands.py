"""``helpline tickets reply|note|undo``: agents without Slack answer from the command line.

``reply NUMBER --text T [--file F ...] --actor AGENT_EMAIL`` answers the
customer on the ticket's channel through the reply path Slack and the API use
(``workers/tickets/cli_replies.py``), waiting out the same undo window; ``undo
OUTBOX_ID --actor`` withdraws it meanwhile. ``note`` writes an internal note
(never sent). ``--actor`` is required: the answer is signed by that agent and
their role must allow it (``router/permissions.py``); an unknown agent exits 2.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import uuid
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 20 * 1024 * 1024


def _fail(prog: str, message: str, code: int = 1) -> int:
    print(f"helpline tickets {prog}: {message}", file=sys.stderr)
    return code


def _text(args: argparse.Namespace) -> str:
    return args.text if args.text is not None else sys.stdin.read()


def _files(paths: list[str], settings: Any) -> list[dict[str, Any]]:
    """Each file stored in the blob store before the transaction, as Slack's fetched files are."""
    from helpline.store.storage import blobs

    store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    out = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise ValueError(f"--file {raw}: no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"--file {raw}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
        ctype = mimetypes.guess_type(path.name, strict=False)[0] or "application/octet-stream"
        out.append({"name": path.name[:200], "content_type": ctype, "blob_key": store.put(data), "size": len(data)})
    return out


def _ticket(number: str) -> int | None:
    from helpline.store.tickets import routing_state
    from helpline.store.db import run_tx

    key = number.strip().upper()
    return run_tx(lambda: routing_state.ids_of([key]), durable=False).get(key)


def cmd_reply(args: argparse.Namespace) -> int:
    from helpline.router.permissions import PermissionDenied, require
    from helpline.store.access import agent_roles
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import cli_replies
    from helpline.workers.tickets import replies
    from helpline.store.inbound import audit_events

    from helpline.ingest.cli.routing_commands import _acting, _print_json, _settings

    prog = args.action
    s = _settings()
    who, actor = _acting(args)  # exits 2 for an unknown agent
    text = _text(args)
    if not text.strip():
        return _fail(prog, "the text is empty (--text, or on standard input)", 2)
    tid = _ticket(args.number)
    if tid is None:
        return _fail(prog, f"no ticket {args.number.strip().upper()}; `helpline tickets list` shows the numbers")
    try:
        require(who, prog, run_tx(lambda: agent_roles.ticket_facts(ticket_id=tid), durable=False))
    except PermissionDenied as exc:
        return _fail(prog, f"refused: {exc}")
    name = who.name or who.email
    try:
        files = _files(args.file or [], s) if prog == "reply" else []
    except ValueError as exc:
        return _fail(prog, str(exc), 2)

    def tx() -> Any:
        with audit_events.buffered_events():
            if prog == "note":
                return cli_replies.note(tid, text, agent=name, actor=actor, now=utcnow())
            return cli_replies.reply(
                tid,
                text,
                agent=name,
                actor=actor,
                key=args.key or uuid.uuid4().hex,
                settings=s,
                now=utcnow(),
                files=files,
            )

    try:
        done = run_tx(tx)
    except (cli_replies.ReplyNotPossible, replies.KeyReused) as exc:
        return _fail(prog, str(exc))
    if prog == "note":
        out = {"ticket": args.number.upper(), "note": done}
        if args.json:
            _print_json(out)
        else:
            print(f"{out['ticket']}: internal note {done} added (not sent to the customer)")
        return 0
    out = {
        "ticket": args.number.upper(),
        "message": done.message_id,
        "channel": done.channel,
        "to": done.recipient,
        "outbox": done.outbox_ids,
        "due_in_s": done.due_in_s,
        "repeated": done.repeated,
        "files_sent": done.files_sent,
        "files_reason": done.files_reason,
    }
    if args.json:
        _print_json(out)
    elif done.repeated:
        print(f"{out['ticket']}: this --key was answered before (message {done.message_id}); nothing new sent")
    else:
        to = done.recipient or "the source's app"
        print(
            f"{out['ticket']}: reply queued by {done.channel} to {to}"
            + (
                f"; it goes in {done.due_in_s:g} s, `helpline tickets undo {done.outbox_ids[0]} --actor "
                f"{who.email}` withdraws it until then"
                if done.due_in_s and done.outbox_ids
                else ""
            )
        )
        if files and done.files_reason:
            print(f"files: {done.files_reason}", file=sys.stderr)
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from helpline.router.permissions import PermissionDenied, require
    from helpline.store.channels import slack_state

    from helpline.ingest.cli.routing_commands import _acting, _settings

    _settings()
    who, actor = _acting(args)
    try:
        require(who, "reply")
    except PermissionDenied as exc:
        return _fail("undo", f"refused: {exc}")
    result = slack_state.withdraw_reply(args.outbox_id, actor)
    answers = {
        "withdrawn": "withdrawn: it will not be sent",
        "too_late": "too late: it was already sent",
        "unknown": "not an agent's reply waiting in its undo window",
    }
    print(f"outbox {args.outbox_id}: {answers[result]}", file=sys.stdout if result == "withdrawn" else sys.stderr)
    return 0 if result == "withdrawn" else 1


def register(tickets: Any) -> None:
    """Add ``tickets reply``, ``tickets note`` and ``tickets undo`` to the ``helpline`` parser."""
    for action, what in (
        ("reply", "answer the customer on the ticket's channel (as the agent --actor)"),
        ("note", "add an internal note (never sent to the customer)"),
    ):
        p = tickets.add_parser(action, help=what)
        p.add_argument("number", metavar="NUMBER")
        p.add_argument("--text", help="the text (default: standard input)")
        if action == "reply":
            p.add_argument("--file", action="append", metavar="PATH", help="attach a file (repeatable)")
            p.add_argument("--key", default="", help="names this answer: the same key never sends twice")
        p.add_argument(
            "--actor",
            required=True,
            metavar="AGENT_EMAIL",
            help="the agent writing it: an active agent whose role allows it",
        )
        p.add_argument("--json", action="store_true")
        p.set_defaults(fn=cmd_reply)
    u = tickets.add_parser("undo", help="withdraw a reply still in its undo window")
    u.add_argument("outbox_id", type=int, metavar="OUTBOX_ID")
    u.add_argument("--actor", required=True, metavar="AGENT_EMAIL")
    u.set_defaults(fn=cmd_undo)
