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
import os
import stat
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


def _display(raw: str) -> str:
    """A path as the refusal shows it: undecodable bytes and control characters escaped, never raw."""
    return ascii(raw)[1:-1] if not raw.isprintable() else raw


def _file_name(path: Path) -> str:
    """The attachment's name: the file's name as UTF-8 (bytes that are not become U+FFFD), control and
    invisible format characters dropped, at most 200 characters; the database and the mail header take it."""
    name = path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    name = "".join(c for c in name if c.isprintable())
    return name[:200] or "attachment"


def _desk_dirs(settings: Any) -> list[Path]:
    return [
        Path(d).resolve() for d in (settings.data_dir, settings.effective_blob_dir, settings.effective_spool_dir) if d
    ]


def _read_file(raw: str, settings: Any) -> tuple[Path, bytes]:
    """One ``--file``: a regular file, read without following a symbolic link, bounded by the size limit.

    Refused with a reason: anything not a regular file (a directory; a FIFO or a device such as
    /dev/zero, which could block or never end: opened non-blocking and checked before a byte is read), a
    symbolic link (it may have been planted where the agent looked; name the file it points to instead),
    a file inside the desk's own data directory (its database, blobs, spool and key are no attachment,
    whatever the command-line user may read), and a file over ``MAX_FILE_BYTES`` (checked on the open
    file and again while reading, so a file that grows meanwhile is refused too)."""
    shown = _display(raw)
    path = Path(raw)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        if path.is_symlink():
            raise ValueError(f"--file {shown}: is a symbolic link; name the file it points to")
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ValueError(f"--file {shown}: no such file") from None
    except PermissionError:
        raise ValueError(f"--file {shown}: permission denied") from None
    except OSError as exc:
        raise ValueError(f"--file {shown}: cannot be opened: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"--file {shown}: is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
            raise ValueError(f"--file {shown}: is {kind}, not a regular file")
        real = Path(raw).resolve()
        if any(real == d or d in real.parents for d in _desk_dirs(settings)):
            raise ValueError(f"--file {shown}: lies in Helpline's data directory; its files are not attachments")
        if st.st_size > MAX_FILE_BYTES:
            raise ValueError(f"--file {shown}: {st.st_size} bytes, larger than the limit of {MAX_FILE_BYTES}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"--file {shown}: larger than the limit of {MAX_FILE_BYTES} bytes")
    finally:
        os.close(fd)
    return path, data


def _files(paths: list[str], settings: Any) -> list[dict[str, Any]]:
    """Each file stored in the blob store before the transaction, as Slack's fetched files are."""
    from helpline.store.storage import blobs

    read = [_read_file(raw, settings) for raw in paths]  # every file checked before any is stored
    store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    out = []
    for path, data in read:
        name = _file_name(path)
        ctype = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
        out.append({"name": name, "content_type": ctype, "blob_key": store.put(data), "size": len(data)})
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
