"""``multipart/form-data`` from raw bytes, for the contact form and the webhook API.

The HTTP channels' parsers must be pure functions of the request's bytes (they
run again when the spool is drained, long after the request is gone), so the
body is parsed here with the standard library's MIME parser instead of
aiohttp's streaming reader, which needs the live request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.utils import collapse_rfc2231_value
from urllib.parse import unquote

from multidict import MultiDict

from helpline.ingest import decoding
from helpline.ingest.decoding import clean_text
from helpline.ingest.email.attachments import _TYPES, safe_name
from helpline.ingest.email.headers import fix_8bit

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


class FormDataError(ValueError):
    """The body is not multipart/form-data this parser can read; the message says why."""


@dataclass
class FormFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class FormData:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[FormFile] = field(default_factory=list)

    def get(self, name: str) -> str:
        """The first value of a text field, or ""."""
        values = self.fields.get(name)
        return values[0] if values else ""


def _disposition(part: Message) -> Message:
    """The part's Content-Disposition as text: browsers send non-ASCII file names as raw
    UTF-8, which the parser keeps as escaped bytes and its accessors would garble."""
    raw = next((str(v) for k, v in part.raw_items() if k.lower() == "content-disposition"), "")
    holder = Message()
    holder["Content-Disposition"] = fix_8bit(raw)
    return holder


def _filename(disposition: Message) -> str:
    raw = disposition.get_param("filename", header="content-disposition")
    if raw is None:
        return ""
    name = collapse_rfc2231_value(raw) if isinstance(raw, tuple) else str(raw)  # filename*= or filename=
    if name.isascii() and _PERCENT.search(name):  # some clients (aiohttp) percent-encode it instead
        try:
            name = unquote(name, errors="strict")
        except UnicodeDecodeError:
            pass
    return safe_name(name)


def parse(raw: bytes, content_type: str, *, max_files: int = 20) -> FormData:
    """The text fields and files of a form post."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type.lower():
        raise FormDataError("Content-Type must be multipart/form-data with a boundary")
    if "\r" in content_type or "\n" in content_type:
        raise FormDataError("Content-Type has a line break")
    msg = message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\nMIME-Version: 1.0\r\n\r\n" + raw
    )
    if not msg.is_multipart() or any(
        type(d).__name__ in ("StartBoundaryNotFoundDefect", "NoBoundaryInMultipartDefect") for d in msg.defects
    ):
        raise FormDataError("the body is not multipart/form-data (boundary not found)")
    out = FormData()
    for part in msg.get_payload():
        if not isinstance(part, Message):
            continue
        disposition = _disposition(part)
        name = disposition.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)  # bytes for a leaf part, None for a nested multipart
        data = payload if isinstance(payload, bytes) else b""
        filename = _filename(disposition)
        if disposition.get_param("filename", header="content-disposition") is not None:
            if not data and not filename:  # an empty file input
                continue
            if len(out.files) >= max_files:
                raise FormDataError(f"more than {max_files} files")
            ctype = part.get_content_type() if part.get("Content-Type") else "application/octet-stream"
            if ctype == "application/octet-stream" and filename:
                ctype = _TYPES.guess_type(filename, strict=False)[0] or ctype
            out.files.append(FormFile(name, filename or "attachment", ctype, data))
        else:
            charset = part.get_content_charset() or "utf-8"
            try:
                text = data.decode(charset, "replace")
            except LookupError:
                text = data.decode("utf-8", "replace")
            out.fields.setdefault(clean_text(name), []).append(clean_text(text.replace("\r\n", "\n")))
    return out


def read_form(raw: bytes, content_type: str) -> MultiDict[str]:
    """A form post's text fields, URL-encoded or multipart (files ignored); ``BodyError`` if unreadable."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", ""):
        return decoding.form_fields(raw)
    if kind == "multipart/form-data":
        try:
            parsed = parse(raw, content_type)
        except FormDataError as exc:
            raise decoding.BodyError("body", str(exc)) from None
        return MultiDict((k, v) for k, values in parsed.fields.items() for v in values)
    raise decoding.BodyError("content-type", "send application/x-www-form-urlencoded or multipart/form-data")
