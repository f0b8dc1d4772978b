"""Outbound message templates: the automatic acknowledgement, and the MIME builder.

The ack never repeats what the customer wrote (ARCHITECTURE.md, "Guarantees"):
anyone can forge a sender address, so a reply that echoed the body would let
spammers use us as a relay. Only the subject line is repeated (capped), and
the greeting uses the display name only when it looks like a person's name.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import unicodedata
import quopri
from email import message_from_bytes
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, getaddresses
from typing import Any, Callable
from urllib.parse import quote

from helpline.notifier import render
from helpline.notifier.addresses import bare

MAX_SUBJECT = 200
MAX_REFERENCES = 20

# Reply/forward prefixes in common mail clients' languages, and our own tag.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|ref|rif|res|odp|r|回复|答复)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]|\[HL-\d{4}-\d+\])\s*",
    re.IGNORECASE,
)
_MSG_ID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
# Every repetition needs a separator, so matching stays linear.
_NAME = re.compile(r"^[^\W\d_]+(?:(?:\. | |['’\-])[^\W\d_]+)*\.?$")


_PRINTABLE_ASCII = re.compile(r"[ -~]*")


def _one_line(text: str) -> str:
    """Collapse whitespace and drop control characters (no header injection)."""
    text = text or ""
    if not _PRINTABLE_ASCII.fullmatch(text):  # printable ASCII (most headers) has no control characters
        text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(text.split())


def clean_subject(subject: str) -> str:
    """The customer's subject without stacked ``Re:``/``AW:`` prefixes or our tag, capped."""
    text = _one_line(subject)
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    if len(text) > MAX_SUBJECT:
        text = text[: MAX_SUBJECT - 1].rstrip() + "…"
    return text


def ack_subject(ticket_number: str, subject: str) -> str:
    return f"[{ticket_number}] Re: {clean_subject(subject) or '(no subject)'}"


def safe_name(name: str | None) -> str:
    """The display name if it plainly looks like a person's name, else "".

    Names are sender-controlled text like the body: "Buy pills at x.example"
    must not be echoed, so only words of letters joined by a space, hyphen,
    apostrophe or ". " (no digits, no domains), at most four words and 60
    characters, pass.
    """
    text = _one_line(name or "").strip("\"' ")
    if not text or len(text) > 60 or len(text.split()) > 4 or not _NAME.match(text):
        return ""
    return text


def message_id_list(values: list[str]) -> list[str]:
    """Keep only well-formed ``<id@domain>`` values (customer headers may be junk)."""
    out: list[str] = []
    for value in values:
        for token in (value or "").split():
            if _MSG_ID.match(token) and token not in out:
                out.append(token)
    return out


def render_ack(
    *,
    ticket_number: str,
    subject: str,
    customer_name: str | None,
    support_address: str,
    recipient: str,
    in_reply_to: str,
    references: list[str],
    message_id: str,
    echo: bool = True,
    language: str | None = None,
    templates_dir: str = "",
    article: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The outbox payload of the automatic acknowledgement of a new ticket.

    ``article`` ({title, url}): a knowledge-base article that may answer it (deflection), named with its link.

    Without ``echo`` it repeats nothing the sender wrote, not even the subject
    or the name: for addresses nobody has proven to own (the contact form).

    ``in_reply_to`` is the customer's Message-ID; ``references`` theirs. The
    returned dict is JSON-serialisable and is everything ``build_email`` needs,
    so a resend after a crash produces the same message with the same id.
    ``ack.html`` beside the text template (same directory and language) adds
    the HTML part.
    """
    parent = message_id_list([in_reply_to])
    refs = message_id_list(list(references) + parent)[-MAX_REFERENCES:]
    name = safe_name(customer_name) if echo else ""
    text, html = render.templates(templates_dir).email(
        "ack",
        language,
        greeting=f"Hello {name}," if name else "Hello,",
        customer_name=name,
        ticket_number=ticket_number,
        support_address=support_address,
        article=article,
    )
    payload = {
        "from": support_address,
        "to": recipient,
        "subject": ack_subject(ticket_number, subject) if echo else f"[{ticket_number}] We have received your message",
        "message_id": message_id,
        "in_reply_to": parent[0] if parent else "",
        "references": refs,
        "headers": {
            "Auto-Submitted": "auto-replied",
            "X-Auto-Response-Suppress": "All",
            "X-Helpline-Ticket": ticket_number,
        },
        "text": text,
    }
    if html:  # sent as multipart/alternative by render_bytes (text first)
        payload["html"] = html
    return payload


def _addresses(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value if v)
    return str(value or "")


def _header(value: str) -> str:
    """One header value: ASCII as it is, anything else RFC 2047-encoded (folded)."""
    value = _one_line(value)
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _address_list(value: Any) -> str:
    if isinstance(value, str) and bare(value.strip()) and value.isascii():
        return value.strip()
    pairs = getaddresses([_addresses(value)])
    return ", ".join(formataddr((name, addr), charset="utf-8") for name, addr in pairs if addr)


def render_bytes(payload: dict[str, Any], blob: Callable[[str], bytes] | None = None) -> bytes:
    """The wire bytes of an outbox payload: text/plain, UTF-8, quoted-printable, CRLF.

    A payload listing ``attachments`` (``blob_key``, ``filename``,
    ``content_type``) becomes multipart/mixed, the bytes read through ``blob``
    (the blob store's get); acknowledgements have none and keep the fast path.

    Written out directly because the stdlib's EmailMessage header registry
    costs about a millisecond per message, which is most of an
    acknowledgement's cost; quoted-printable keeps the body 7-bit so any relay
    accepts it without 8BITMIME.
    """
    headers = [
        ("From", _address_list(payload["from"])),
        ("To", _address_list(payload["to"])),
    ]
    if payload.get("cc"):
        headers.append(("Cc", _address_list(payload["cc"])))
    headers += [
        ("Subject", _header(payload.get("subject", ""))),
        ("Date", format_datetime(dt.datetime.now(dt.timezone.utc))),
    ]
    if payload.get("message_id"):
        headers.append(("Message-ID", _one_line(payload["message_id"])))
    if payload.get("in_reply_to"):
        headers.append(("In-Reply-To", _one_line(payload["in_reply_to"])))
    if payload.get("references"):
        headers.append(("References", "\r\n ".join(_one_line(r) for r in payload["references"])))
    for name, value in (payload.get("headers") or {}).items():
        headers.append((name, _header(str(value))))
    text_part = _qp(str(payload.get("text", "")))
    if payload.get("attachments"):
        if blob is None:
            raise ValueError("the payload has attachments but no blob store was given to read them")
        content_type, body = _body(payload, text_part)
        boundary = "=_hl_mixed_" + hashlib.sha256(body).hexdigest()[:24]
        parts = [f"--{boundary}\r\nContent-Type: {content_type}\r\n".encode("ascii") + body]
        for item in payload["attachments"]:
            parts.append(f"--{boundary}\r\n".encode("ascii") + _attachment(item, blob(str(item["blob_key"]))))
        headers += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/mixed; boundary="{boundary}"')]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
        return head + b"\r\n" + b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode("ascii")
    if payload.get("html"):  # multipart/alternative: plain text first, HTML preferred by clients that show it
        boundary = "=_hl_" + hashlib.sha256(text_part).hexdigest()[:24]
        headers += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
        part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        body = (
            f"--{boundary}\r\n{part.format('plain')}".encode("ascii")
            + text_part
            + f"\r\n--{boundary}\r\n{part.format('html')}".encode("ascii")
            + _qp(str(payload["html"]))
            + f"\r\n--{boundary}--\r\n".encode("ascii")
        )
    else:
        headers += [
            ("MIME-Version", "1.0"),
            ("Content-Type", 'text/plain; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ]
        body = text_part
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    return head + b"\r\n" + body


def _body(payload: dict[str, Any], text_part: bytes) -> tuple[str, bytes]:
    """The message's text (and HTML) as the first part of a multipart/mixed: its Content-Type
    value, then the rest of its headers, a blank line and its content."""
    if not payload.get("html"):
        return 'text/plain; charset="utf-8"', b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + text_part
    boundary = "=_hl_" + hashlib.sha256(text_part).hexdigest()[:24]
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    inner = (
        f"--{boundary}\r\n{part.format('plain')}".encode("ascii")
        + text_part
        + f"\r\n--{boundary}\r\n{part.format('html')}".encode("ascii")
        + _qp(str(payload["html"]))
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )
    return f'multipart/alternative; boundary="{boundary}"', b"\r\n" + inner


def _attachment(item: dict[str, Any], data: bytes) -> bytes:
    """One attachment part: base64 in 76-character lines; the filename RFC 2231-encoded when not ASCII."""
    ctype = _one_line(str(item.get("content_type") or "application/octet-stream"))
    if not re.fullmatch(r"[\w.+-]+/[\w.+-]+", ctype):
        ctype = "application/octet-stream"
    name = _one_line(str(item.get("filename") or "attachment")).replace("\\", "_").replace('"', "'") or "attachment"
    if name.isascii():
        disposition = f'attachment; filename="{name}"'
    else:
        disposition = "attachment; filename*=utf-8''" + quote(name, safe="")
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: {disposition}\r\n\r\n"
    ).encode("ascii") + encoded


def _qp(text: str) -> bytes:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return quopri.encodestring(text.encode("utf-8")).replace(b"\n", b"\r\n")


def build_email(payload: dict[str, Any]) -> EmailMessage:
    """The message ``render_bytes`` sends, parsed back (for inspection and tests)."""
    return message_from_bytes(render_bytes(payload), policy=SMTP)  # type: ignore[return-value]
