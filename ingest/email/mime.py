"""Raw bytes to a MIME tree, split into body parts and attachment parts.

Parsing uses the standard library's ``email`` package with the ``compat32``
policy directly, not mail-parser's ``MailParser``: for a typical 3 KB
message MailParser alone runs at about 1,450 messages/s on one core (it
parses every Received header, date and address for forensic diagnostics on
each message), under the SMTP accept path's budget before any other work;
``compat32`` parses the same message at about 8,000/s, and
``policy.default`` at about 850/s (it builds header objects eagerly).
mail-parser also leaves iso-2022-jp bodies undecoded, so body text is
decoded here anyway (``body.py``).

Broken MIME is repaired best effort: a multipart whose boundary is missing
or wrong gets its boundary guessed from the body; anything else the parser
flags becomes a ``broken_mime`` warning, never an exception.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from email import errors
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from helpline.ingest.email import boundary
from helpline.ingest.email.headers import part_header

boundary.install()  # see boundary.py: a compiled regex per multipart part was a fifth of intake's CPU
_PARSER = BytesParser(policy=compat32)
_HEADER_LINE = re.compile(rb"^(?:From [^\r\n]*\r?\n)?[!-9;-~]{1,76}:")
_KNOWN = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "mime-version",
        "content-type",
        "delivered-to",
        "reply-to",
        "sender",
        "dkim-signature",
        "authentication-results",
        "in-reply-to",
        "references",
        "arc-seal",
        "list-id",
        "auto-submitted",
    }
)
_BOUNDARY_LINE = re.compile(rb"^--([ -~]{1,70}?)[ \t]*\r?$", re.MULTILINE)
_BROKEN = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.MissingHeaderBodySeparatorDefect,
    errors.FirstHeaderLineIsContinuationDefect,
    errors.MisplacedEnvelopeHeaderDefect,
)
BODY_TYPES = ("text/plain", "text/html")
# Above this size the message is parsed as a stream: ``parsebytes`` decodes the whole message into one
# str and copies it again into a StringIO, which (with the line lists) took 140 MB for a 21 MB message;
# read through ``BytesIO`` 8 KB at a time the parse peaks at 34 MB (tests/email/test_email_large.py).
_STREAM_ABOVE = 256 * 1024


def header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (all of them if there is none)."""
    m = re.search(rb"\r?\n\r?\n", raw)
    return raw[: m.start()] if m else raw


def starts_like_email(raw: bytes) -> bool:
    """True if the bytes start with a header line and the header block holds no NUL."""
    if not raw or raw.isspace():  # not raw.strip(): that copies the whole message
        return False
    head = header_block(raw.lstrip(b"\r\n")[:65536])
    return b"\x00" not in head and bool(_HEADER_LINE.match(head))


_PREAMBLE_LINES = 4
_HEADER_NAME = re.compile(rb"^([!-9;-~]{1,76}):", re.MULTILINE)


def skip_preamble(raw: bytes) -> bytes:
    """The message without a few leading lines that are not headers, such as
    ``---- Original email message ----`` that some clients and archivers write
    above the real header block; the bytes unchanged when there is none."""
    start = len(raw) - len(raw.lstrip(b"\r\n"))
    if _HEADER_LINE.match(raw, start) or not raw:
        return raw
    pos = start
    for _ in range(_PREAMBLE_LINES):
        nl = raw.find(b"\n", pos, pos + 1000)
        if nl < 0:
            return raw
        pos = nl + 1
        rest = raw[pos:].lstrip(b"\r\n")
        if _HEADER_LINE.match(rest):
            head = header_block(rest[:65536])
            names = {m.group(1).decode("ascii").lower() for m in _HEADER_NAME.finditer(head)}
            if b"\x00" not in head and has_mail_headers(names) and ("from" in names or "subject" in names):
                return rest
    return raw


def has_mail_headers(names) -> bool:
    """At least one header that a mail system writes (``names`` lower-cased);
    a text file that happens to start with "Word:" has none."""
    return any(n in _KNOWN or n.startswith("x-") for n in names)


def parse(raw: bytes, warnings: list[str]) -> Message:
    """Parse, repairing a multipart whose boundary cannot be found. A nesting
    deep enough to exhaust the parser's recursion keeps its headers and is
    read as one text body."""
    try:
        msg = _PARSER.parsebytes(raw) if len(raw) < _STREAM_ABOVE else _PARSER.parse(io.BytesIO(raw))
    except RecursionError:
        msg = _PARSER.parsebytes(raw, headersonly=True)
        msg.set_type("text/plain")
        _warn(warnings, "mime_too_deep")
        return msg
    if msg.get_content_maintype() == "multipart" and not msg.is_multipart():
        body = raw[len(header_block(raw)) :].lstrip(b"\r\n")
        repaired = _reparse_with_guessed_boundary(body)
        if repaired is not None:
            msg.set_payload(repaired.get_payload())
        _warn(warnings, "broken_mime")
    return msg


def _reparse_with_guessed_boundary(body: bytes) -> Message | None:
    for m in _BOUNDARY_LINE.finditer(body):
        boundary = m.group(1).rstrip(b"-") if m.group(1).endswith(b"--") else m.group(1)
        if body.count(b"--" + boundary) >= 2 or body[m.end() : m.end() + 200].lstrip().lower().startswith(b"content-"):
            head = b'Content-Type: multipart/mixed; boundary="' + boundary.replace(b'"', b"") + b'"\r\n\r\n'
            sub = _PARSER.parsebytes(head + body)
            if sub.is_multipart() and sub.get_payload():
                return sub
    return None


@dataclass
class Parts:
    text: list[Message] = field(default_factory=list)
    html: list[Message] = field(default_factory=list)
    attachments: list[Message] = field(default_factory=list)
    report: Message | None = None  # the multipart/report container of a DSN/MDN


def split(msg: Message, warnings: list[str]) -> Parts:
    """Body parts (text/plain, text/html meant for reading) versus everything else."""
    parts = Parts()
    _walk(msg, parts, warnings, depth=0)
    return parts


def _walk(part: Message, out: Parts, warnings: list[str], depth: int) -> None:
    if any(isinstance(d, _BROKEN) for d in part.defects):
        _warn(warnings, "broken_mime")
    ctype = part.get_content_type()
    if part.is_multipart() and not ctype.startswith("message/"):
        if depth > 30:
            _warn(warnings, "mime_too_deep")
            return
        if ctype == "multipart/report" and out.report is None:
            out.report = part
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/related" and children:
            root = _related_root(part, children)
            _walk(root, out, warnings, depth + 1)
            out.attachments.extend(c for c in children if c is not root)
            return
        for child in children:
            _walk(child, out, warnings, depth + 1)
        return
    if ctype.startswith("multipart/"):  # multipart without parts: read it as text
        out.text.append(part)
    elif ctype in BODY_TYPES and _readable(part):
        (out.text if ctype == "text/plain" else out.html).append(part)
    else:
        out.attachments.append(part)


def _related_root(part: Message, children: list[Message]) -> Message:
    start = str(part.get_param("start") or "").strip().strip("<>")
    if start:
        for child in children:
            if part_header(child, "content-id").strip("<>") == start:
                return child
    return children[0]


def _readable(part: Message) -> bool:
    """A text part is body unless it is explicitly an attachment or a named file."""
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return False
    return not part.get_param("filename", header="content-disposition") and not part.get_param("name")


def _warn(warnings: list[str], msg: str) -> None:
    if msg not in warnings:
        warnings.append(msg)
