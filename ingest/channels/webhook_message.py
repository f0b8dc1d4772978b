"""The webhook API's parser: a request body in, an ``Envelope`` out, or field errors.

A pure function of its arguments (``build``): it runs when the request arrives
and again when a spooled request is drained, so everything it needs besides the
body (the authenticated source, the Idempotency-Key, the time) comes in ``meta``.

The body is JSON (``application/json``), or ``multipart/form-data`` with the
same JSON in a part named ``message`` and files in the other parts. Every
problem found is reported at once, by field, so an integrator fixes a request
in one round trip::

    {"customer": {"email": "ann@example.org", "name": "Ann"},   # or phone (E.164) or external_id
     "subject": "Order 4711", "text": "Where is it?", "html": "<p>Where is it?</p>",
     "attachments": [{"filename": "a.pdf", "content_type": "application/pdf", "content": "<base64>"}],
     "metadata": {"order": "4711"}, "conversation_id": "chat-99", "ticket": "HL-2026-000042",
     "acknowledge": false}

Identities are scoped: an ``external_id`` is the user's id in the source's own
system, so it becomes ``SOURCE:ID`` (two shops may both have a user 42), and so
does a ``conversation_id``. The Idempotency-Key is scoped the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any, Callable

import phonenumbers

from helpline.store.envelope import Attachment, Envelope, Sender, Thread

from helpline.ingest import decoding
from helpline.ingest.http import form_data
from helpline.ingest.email.attachments import _TYPES, safe_name
from helpline.ingest.email.html import html_to_text, sanitise
from helpline.ingest.intake import Rejected

MAX_ATTACHMENTS = 20
MAX_METADATA_KEYS = 50
MAX_METADATA_VALUE = 2000
FIELDS = {"customer", "subject", "text", "html", "attachments", "metadata", "ticket", "conversation_id", "acknowledge"}
CUSTOMER_FIELDS = {"email", "phone", "external_id", "name"}
EMAIL_RE = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\.][^\s@<>()\[\],;:\"\\]*\.[^\s@<>()\[\],;:\"\\.]+$")
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TICKET = re.compile(r"^HL-\d{4}-\d{6,}$", re.IGNORECASE)
TOKEN_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII without spaces: ids and keys


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, error: str) -> None:
        self.items.append({"field": field, "error": error})


def _string(body: dict[str, Any], name: str, errors: _Errors, *, limit: int, prefix: str = "") -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(prefix + name, "must be a string")
        return ""
    if len(value) > limit:
        errors.add(prefix + name, f"must be at most {limit} characters")
        return ""
    return value


def normalise_phone(value: str) -> str:
    """E.164 (``+4930123456``), or raise ValueError with a message for the caller."""
    if not value.strip().startswith("+"):
        raise ValueError("must be in E.164 form: + and the country code, e.g. +4930123456")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"is not a phone number ({exc._msg})") from None  # noqa: SLF001
    if not phonenumbers.is_possible_number(number):
        raise ValueError("is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _customer(body: dict[str, Any], source: str, errors: _Errors) -> tuple[list[tuple[str, str]], str]:
    """([(kind, address)], name): the identities the source vouches for, the primary one first."""
    c = body.get("customer")
    if not isinstance(c, dict):
        errors.add("customer", "required: an object with email, phone or external_id (and an optional name)")
        return [], ""
    for extra in sorted(set(c) - CUSTOMER_FIELDS):
        errors.add(f"customer.{extra}", "unknown field")
    email = _string(c, "email", errors, limit=254, prefix="customer.").strip().lower()
    phone = _string(c, "phone", errors, limit=40, prefix="customer.").strip()
    external = _string(c, "external_id", errors, limit=200, prefix="customer.").strip()
    name = " ".join(_string(c, "name", errors, limit=200, prefix="customer.").split())
    ids: list[tuple[str, str]] = []
    if external:
        if not TOKEN_RE.match(external):
            errors.add("customer.external_id", "must be printable ASCII without spaces")
        else:
            ids.append(("external", f"{source}:{external}"))
    if email:
        if not EMAIL_RE.match(email) or ".." in email:
            errors.add("customer.email", "is not an email address (local@domain.tld)")
        else:
            ids.append(("email", email))
    if phone:
        try:
            ids.append(("phone", normalise_phone(phone)))
        except ValueError as exc:
            errors.add("customer.phone", str(exc))
    if not (email or phone or external) and "customer" not in {e["field"].split(".")[0] for e in errors.items}:
        errors.add("customer", "needs at least one of email, phone, external_id")
    return ids, name


def _attachment(item: Any, where: str, errors: _Errors) -> tuple[str, str, bytes] | None:
    if not isinstance(item, dict):
        errors.add(where, "must be an object with filename, content_type and content (base64)")
        return None
    for extra in sorted(set(item) - {"filename", "content_type", "content"}):
        errors.add(f"{where}.{extra}", "unknown field")
    filename = safe_name(_string(item, "filename", errors, limit=255, prefix=where + "."))
    ctype = _string(item, "content_type", errors, limit=200, prefix=where + ".").strip().lower()
    content = item.get("content")
    if not isinstance(content, str):
        errors.add(f"{where}.content", "required: the file's bytes in base64")
        return None
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        errors.add(f"{where}.content", "is not valid base64")
        return None
    if ctype and not re.match(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$", ctype):
        errors.add(f"{where}.content_type", "is not a media type such as application/pdf")
        return None
    if not ctype:
        ctype = (_TYPES.guess_type(filename, strict=False)[0] if filename else None) or "application/octet-stream"
    return filename or "attachment", ctype, data


def _metadata(body: dict[str, Any], errors: _Errors) -> dict[str, str]:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add("metadata", "must be an object of string keys and string values")
        return {}
    if len(value) > MAX_METADATA_KEYS:
        errors.add("metadata", f"at most {MAX_METADATA_KEYS} keys")
        return {}
    out: dict[str, str] = {}
    for key, val in value.items():
        if not _KEY.match(key):
            errors.add(f"metadata.{key[:64]}", "keys are 1-64 letters, digits, '_', '.', ':' or '-'")
        elif not isinstance(val, str):
            errors.add(f"metadata.{key}", "values must be strings")
        elif len(val) > MAX_METADATA_VALUE:
            errors.add(f"metadata.{key}", f"at most {MAX_METADATA_VALUE} characters")
        else:
            out[key] = val
    return out


def _decode(raw: bytes, content_type: str, errors: _Errors) -> tuple[Any, list[form_data.FormFile]]:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "multipart/form-data":
        try:
            form = form_data.parse(raw, content_type, max_files=MAX_ATTACHMENTS)
        except form_data.FormDataError as exc:
            errors.add("body", str(exc))
            return None, []
        text = form.get("message")
        if not text:
            errors.add("message", "a multipart request needs the JSON message in a part named 'message'")
            return None, form.files
        raw_json = text.encode("utf-8")
        files = form.files
    elif ctype in ("application/json", ""):
        raw_json, files = raw, []
    else:
        errors.add("content-type", "must be application/json or multipart/form-data")
        return None, []
    try:
        return decoding.load_json(raw_json), files
    except decoding.BodyError as exc:
        errors.add(exc.field, exc.reason)
        return None, files


def build(raw: bytes, meta: dict[str, Any], put_blob: Callable[[bytes], str]) -> Envelope:
    """The envelope of one ``POST /api/v1/messages``; raises ``Rejected`` with every field error."""
    source = str(meta["source"])
    errors = _Errors()
    body, files = _decode(raw, str(meta.get("content_type") or ""), errors)
    if body is not None and not isinstance(body, dict):
        errors.add("body", "must be a JSON object")
        body = None
    if body is None:
        raise Rejected("the request body cannot be read", errors.items)
    for extra in sorted(set(body) - FIELDS):
        errors.add(extra, "unknown field")
    identities, name = _customer(body, source, errors)
    subject = " ".join(_string(body, "subject", errors, limit=998).split())
    text = _string(body, "text", errors, limit=10_000_000).strip()
    html = _string(body, "html", errors, limit=10_000_000)
    if not text and not html.strip():
        errors.add("text", "required: the message (text, or html)")
    metadata = _metadata(body, errors)
    ticket = _string(body, "ticket", errors, limit=40).strip()
    if ticket and not _TICKET.match(ticket):
        errors.add("ticket", "must be a ticket number such as HL-2026-000042")
    conversation = _string(body, "conversation_id", errors, limit=200).strip()
    if conversation and not TOKEN_RE.match(conversation):
        errors.add("conversation_id", "must be 1-200 printable ASCII characters without spaces")
    acknowledge = body.get("acknowledge", False)
    if not isinstance(acknowledge, bool):
        errors.add("acknowledge", "must be true or false")
    items = body.get("attachments") or []
    if not isinstance(items, list):
        errors.add("attachments", "must be a list")
        items = []
    if len(items) + len(files) > MAX_ATTACHMENTS:
        errors.add("attachments", f"at most {MAX_ATTACHMENTS} files")
        items = []
    decoded = [a for i, item in enumerate(items) if (a := _attachment(item, f"attachments[{i}]", errors))]
    decoded += [(f.filename, f.content_type, f.data) for f in files]
    if errors.items:
        raise Rejected(f"{len(errors.items)} field(s) are invalid", errors.items)

    html = sanitise(html) if html.strip() else ""
    if not text:
        text = html_to_text(html)
    attachments = [
        Attachment(
            filename=fn,
            content_type=ct,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            blob_key=put_blob(data),
        )
        for fn, ct, data in decoded
    ]
    # What a retry does not change: the parsed body (key order and spacing aside) and the files.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    content_hash = hashlib.sha256("\x00".join([canonical, *(a.sha256 for a in attachments)]).encode()).hexdigest()
    key = str(meta.get("idempotency_key") or "")
    kind, address = identities[0]
    email = next((a for k, a in identities if k == "email"), "")
    return Envelope(
        channel="webhook",
        external_id=f"{source}:{key}" if key else f"{source}:sha256:{content_hash}",
        received_at=str(meta["received_at"]),
        sender=Sender(address=address, name=name, kind=kind),
        reply_to=[email] if email and kind != "email" else [],
        subject=subject,
        text=text,
        full_text=text,
        html=html,
        attachments=attachments,
        thread=Thread(ticket_ref=ticket.upper(), conversation_id=f"{source}:{conversation}" if conversation else ""),
        metadata={
            "source": source,
            "auth": str(meta.get("auth") or ""),
            "fields": metadata,
            "identities": [list(i) for i in identities],
            "acknowledge": bool(acknowledge),
        },
        content_hash=content_hash,
    )
