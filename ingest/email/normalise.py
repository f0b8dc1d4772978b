"""Raw RFC 5322 bytes to an ``Envelope`` (channel "email"): the one entry point.

Each step lives in its own module; this one only orders them and computes
the two identities. ``external_id`` is the Message-ID, or, when a message has
none, a hash of what a re-delivery keeps (From, Date, Subject, body,
attachments) and never of what it changes (Received, Return-Path,
Delivered-To). ``content_hash`` hashes From, Subject, body text and
attachment hashes, so a re-delivered message has the same one and a
different message reusing a Message-ID does not.

Broken input is repaired best effort and reported in ``warnings``; only bytes
that are not an email at all raise ``NotAnEmail``. A failure inside one step
(a library bug on hostile input) costs that step's fields, with an
``internal_error:<step>`` warning, never the message.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_tz
from typing import Any, TypeVar

from helpline.store.envelope import Attachment, AutoReply, Envelope, Recipients, Sender, Thread

from helpline.ingest.email import addresses, attachments, autoreply, body, detect, mime
from helpline.ingest.email import spam_headers
from helpline.ingest.email.auth import envelope_auth
from helpline.ingest.email.headers import Headers
from helpline.ingest.email.html import html_to_text, sanitise
from helpline.ingest.email.quotes import strip_quotes
from helpline.ingest.email.threadhints import thread_hints

T = TypeVar("T")
# Fwd:, FW:, WG: (de), TR: (fr), RV:/Reenv: (es), I: (it), Enc: (pt), Doorst: (nl), VS:/VB: (fi, sv)
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:(?:Re|AW|SV|VS)\s*:\s*)*(?:Fwd?|WG|TR|RV|Reenv|I|Enc|Doorst|VS|VB|VL)\s*:", re.IGNORECASE
)
log = logging.getLogger(__name__)


class NotAnEmail(ValueError):
    """The bytes are not an email at all (empty, binary, or no header block)."""


def normalise_email(
    raw: bytes,
    *,
    put_blob: Callable[[bytes], str],
    support_addresses: Sequence[str],
    mail_from: str | None = None,
    received_at: datetime | None = None,
) -> Envelope:
    """Normalise one message; ``mail_from`` is the SMTP MAIL FROM ("" or "<>" for
    the null sender), None to use the Return-Path header. Attachment bytes go to ``put_blob``."""
    given = bytes(raw)
    raw = mime.skip_preamble(given)
    if not mime.starts_like_email(raw):
        raise NotAnEmail("no RFC 5322 header block found")
    warnings: list[str] = [] if raw is given else ["preamble_skipped"]
    msg = mime.parse(raw, warnings)
    token = detect.with_hints(msg.get_charsets)
    try:
        return _normalise(raw, msg, warnings, support_addresses, mail_from, received_at, put_blob)
    finally:
        detect.reset_hints(token)


def _normalise(
    raw: bytes,
    msg,
    warnings: list[str],
    support_addresses: Sequence[str],
    mail_from: str | None,
    received_at: datetime | None,
    put_blob: Callable[[bytes], str],
) -> Envelope:
    headers = Headers(msg, warnings)
    if not mime.has_mail_headers(headers.names()):
        raise NotAnEmail("no mail header (From, To, Subject, Date, Received, ...) found")

    sender = _sender(headers, mail_from, warnings)
    subject = headers.text("subject")
    parts = _step("mime", lambda: mime.split(msg, warnings), mime.Parts(), warnings)
    full_text, html = _step("body", lambda: _bodies(parts, warnings), ("", ""), warnings)
    atts: list[Attachment] = _step(
        "attachments", lambda: attachments.collect(parts.attachments, put_blob, warnings), [], warnings
    )
    thread = _step("thread", lambda: thread_hints(headers, subject, support_addresses, warnings), Thread(), warnings)
    auto = _step(
        "auto_reply",
        lambda: autoreply.detect(headers, sender.address, mail_from, subject, parts, full_text, support_addresses),
        AutoReply(),
        warnings,
    )
    auth: dict[str, Any] = _step("auth", lambda: envelope_auth(headers), {}, warnings)
    mta: list[list[str]] = _step("spam_headers", lambda: spam_headers.collect(msg), [], warnings)
    forwarded = bool(_FORWARD_SUBJECT.match(subject))
    text = _step("quotes", lambda: strip_quotes(full_text, forwarded), full_text, warnings) if full_text else ""

    if not thread.message_id:
        warnings.append("missing_message_id")
    date = headers.raw("date")
    if not date:
        warnings.append("missing_date")
    elif parsedate_tz(date) is None:
        warnings.append("bad_date")
    from_line = headers.text("from")
    att_hashes = [a.sha256 for a in atts]
    content_hash = _sha256(from_line, subject, full_text, *att_hashes)
    return Envelope(
        channel="email",
        external_id=thread.message_id or "sha256:" + _sha256(from_line, date, subject, full_text, *att_hashes),
        received_at=_iso_utc(received_at),
        sender=sender,
        reply_to=[a for _, a in addresses.parse(headers.raw("reply-to"), warnings, "reply-to")],
        recipients=Recipients(to=_addrs(headers, "to", warnings), cc=_addrs(headers, "cc", warnings)),
        author_role="customer",
        subject=subject,
        text=text,
        full_text=full_text,
        html=html,
        attachments=atts,
        thread=thread,
        auto_reply=auto,
        auth=auth,
        metadata={"mta_headers": mta} if mta else {},
        warnings=warnings,
        content_hash=content_hash,
    )


def inspect_bytes(raw: bytes, support_addresses: Sequence[str] = ("support@localhost",)) -> dict:
    """The envelope as a dict, storing nothing (``helpline inspect email FILE --json``)."""
    env = normalise_email(
        raw, put_blob=lambda data: "sha256:" + hashlib.sha256(data).hexdigest(), support_addresses=support_addresses
    )
    return env.to_dict()


def _sender(headers: Headers, mail_from: str | None, warnings: list[str]) -> Sender:
    pairs = addresses.parse(headers.raw("from"), warnings, "from")
    if len(pairs) > 1:
        warnings.append("multiple_from")
    recovered = (
        None
        if pairs
        else addresses.recover(headers.text("from") if "=?" in headers.raw("from") else headers.raw("from"))
    )
    if recovered and "@" in recovered[1]:
        pairs = [recovered]
        warnings.append("from_recovered")
    if not pairs:
        warnings.append("missing_from")
        envelope_from = headers.raw("return-path") if mail_from is None else f"<{mail_from.strip('<>')}>"
        pairs = (
            addresses.parse(headers.raw("sender"), warnings, "sender")
            or addresses.parse(envelope_from, None)
            or [recovered or ("", "")]
        )
        if recovered and not pairs[0][0]:
            pairs = [(recovered[0], pairs[0][1])]
    name, address = pairs[0]
    original = addresses.list_original_author((name, address), headers, warnings)
    if original:
        name, address = original
        warnings.append("from_rewritten_by_list")
    return Sender(address=address, name=name, kind="email")


def _bodies(parts: mime.Parts, warnings: list[str]) -> tuple[str, str]:
    """(full text, sanitised html); text comes from the HTML when there is no text part."""
    full_text = "\n".join(body.part_text(p, warnings).strip("\n") for p in parts.text).strip()
    html = sanitise("\n".join(body.part_text(p, warnings) for p in parts.html)) if parts.html else ""
    if not full_text and html:
        full_text = html_to_text(html)
    return full_text, html


def _addrs(headers: Headers, name: str, warnings: list[str]) -> list[str]:
    return [a for _, a in addresses.parse(", ".join(headers.raw_all(name)), warnings, name)]


def _step(name: str, fn: Callable[[], T], default: T, warnings: list[str]) -> T:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - keep the message, report the step
        log.exception("email normaliser step %s failed", name)
        warnings.append(f"internal_error:{name}")
        return default


def _sha256(*fields: str) -> str:
    h = hashlib.sha256()
    for f in fields:
        h.update(f.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _iso_utc(when: datetime | None) -> str:
    when = when or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()
