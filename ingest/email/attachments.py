"""Every non-body part as an ``Attachment``: bytes to blob storage, metadata to the envelope.

Outlook's ``winmail.dat`` (application/ms-tnef) is a container nobody else
can open, so it is unpacked with tnefparse into the files it carries; the
container itself is kept only when unpacking fails. An attached message
(message/rfc822) is kept whole as a ``.eml`` named after its subject, so an
agent can open it in any mail client. Filenames are decoded (RFC 2231 and
the non-standard but common RFC 2047 form) and reduced to a bare name, as a
sender controls them.
"""

from __future__ import annotations

import binascii
import hashlib
import mimetypes
import re
from collections.abc import Callable
from email import message_from_bytes
from email.message import Message
from email.utils import collapse_rfc2231_value

from helpline.store.envelope import Attachment

from helpline.ingest.email import charsets
from helpline.ingest.email.body import b64decode, payload_bytes
from helpline.ingest.email.headers import decode_words, fix_8bit, part_header, unfold

_TYPES = mimetypes.MimeTypes()  # built-in table only: same answers on every host, plus office files
for _ext, _type in {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".msg": "application/vnd.ms-outlook",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".heic": "image/heic",
    ".webp": "image/webp",
    ".7z": "application/x-7z-compressed",
    ".rar": "application/vnd.rar",
    ".log": "text/plain",
    ".eml": "message/rfc822",
    ".ics": "text/calendar",
}.items():
    _TYPES.add_type(_type, _ext)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
_REPORT_NAMES = {
    "message/delivery-status": "delivery-status.txt",
    "text/rfc822-headers": "returned-headers.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "message/feedback-report": "feedback-report.txt",
}


def collect(parts: list[Message], put_blob: Callable[[bytes], str], warnings: list[str]) -> list[Attachment]:
    out: list[Attachment] = []
    for part in parts:
        ctype = part.get_content_type()
        filename = part_filename(part, warnings)
        if ctype in ("message/rfc822", "message/global"):
            data, inner = _attached_message(part, warnings)
            out.append(_make(eml_name(inner), "message/rfc822", data, part, put_blob))
        elif ctype in _TNEF_TYPES or filename.lower() == "winmail.dat":
            data = payload_bytes(part, warnings)
            unpacked = _unpack_tnef(data, put_blob)
            if unpacked is None:
                warnings.append("tnef_unpack_failed")
                out.append(_make(filename or "winmail.dat", ctype, data, part, put_blob))
            else:
                out.extend(unpacked)
        else:
            data = payload_bytes(part, warnings)
            if ctype == "application/octet-stream" and filename:
                ctype = _TYPES.guess_type(filename, strict=False)[0] or ctype
            name = filename or default_name(part, ctype, len(out) + 1)
            out.append(_make(name, ctype, data, part, put_blob))
    return out


def part_filename(part: Message, warnings: list[str]) -> str:
    """The part's filename decoded and stripped of any path, or "": the
    Content-Disposition filename, else the Content-Type name (RFC 2231
    continuations and charsets included); raw 8-bit names are detected
    before parsing, as the stdlib would replace their bytes with U+FFFD."""
    source = _with_8bit_params_decoded(part)
    try:
        raw = _extended_name(source) or source.get_filename() or ""
    except Exception:  # malformed RFC 2231 continuations
        raw = ""
    if not raw:
        raw = _loose_param(source)
    if not raw:
        return ""
    name = fix_8bit(unfold(raw), warnings, "filename")
    if "=?" in name:
        name = decode_words(name, warnings)
    return safe_name(name)


_PARAM_HEADERS = ("content-disposition", "content-type")
_LOOSE_NAME = re.compile(r"""(?:^|;)\s*(?:file)?name\s*=\s*(?:"([^"]*)"?|([^;]*))""", re.IGNORECASE)


def _with_8bit_params_decoded(part: Message) -> Message:
    items = [(k, v) for k, v in part.raw_items() if k.lower() in _PARAM_HEADERS]
    if all(isinstance(v, str) and v.isascii() for _, v in items):
        return part
    holder = Message()
    for key, value in items:
        holder[key] = unfold(fix_8bit(str(value)))
    return holder


def _extended_name(part: Message) -> str:
    """The RFC 2231 ``filename*`` when a plain ``filename`` is also given (the
    stdlib returns whichever comes first; RFC 2231 clients mean the extended one)."""
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        if key + "*" not in part_header(part, header).lower():
            continue
        for name, value in part.get_params(header=header, failobj=[]):
            if name.lower() == key and isinstance(value, tuple):
                charset, _, text = value
                try:  # the stdlib's own step, then our lenient charset decoding (no label: UTF-8 or detected)
                    data = bytes(text, "raw-unicode-escape")
                except UnicodeError:
                    return collapse_rfc2231_value(value).strip()
                return charsets.decode(data, charset or None).strip()
    return ""


def _loose_param(part: Message) -> str:
    """A name the stdlib's parameter parser gave up on (unbalanced quotes, stray semicolons)."""
    for header in _PARAM_HEADERS:
        m = _LOOSE_NAME.search(part_header(part, header))
        if m and (m.group(1) or m.group(2) or "").strip():
            return (m.group(1) or m.group(2)).strip()
    return ""


def safe_name(name: str, limit: int = 180, path: bool = True) -> str:
    """A bare file name: no directories (``path``: keep only the last path
    component), no control or reserved characters, at most ``limit`` long."""
    if path:
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._") if name.strip(" .") else ""
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: limit - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:limit]
    return name


def _attached_message(part: Message, warnings: list[str]) -> tuple[bytes, Message | None]:
    """An attached message's bytes and parsed form. Some clients base64-encode
    message/rfc822 (RFC 2046 forbids it); the parser then reads the base64
    text as a message, so decode and parse again."""
    data = payload_bytes(part, warnings)
    inner = part.get_payload(0) if part.is_multipart() else None
    cte = part_header(part, "content-transfer-encoding").lower()
    if cte in ("base64", "quoted-printable"):
        data = b64decode(data.strip(), warnings) if cte == "base64" else binascii.a2b_qp(data)
        inner = message_from_bytes(data)
    return data, inner if isinstance(inner, Message) else None


def eml_name(inner: Message | None) -> str:
    """``<subject>.eml`` for an attached message."""
    subject = ""
    if inner is not None:
        subject = decode_words(part_header(inner, "subject"))
    stem = safe_name(" ".join(subject.split()), limit=100, path=False)
    return (stem or "message") + ".eml"


def default_name(part: Message, ctype: str, index: int) -> str:
    cid = part_header(part, "content-id").strip("<>")
    local = safe_name(cid.split("@", 1)[0])
    if "." in local:  # Outlook and Apple write "image001.png@01DA..." style ids
        return local
    if ctype in _REPORT_NAMES:
        return _REPORT_NAMES[ctype]
    ext = _TYPES.guess_extension(ctype, strict=False) or (".txt" if ctype.startswith("text/") else ".bin")
    return f"attachment-{index}{ext}"


def _make(filename: str, ctype: str, data: bytes, part: Message, put_blob: Callable[[bytes], str]) -> Attachment:
    disposition = (part.get_content_disposition() or "").lower()
    cid = part_header(part, "content-id").strip("<>").strip()
    return Attachment(
        filename=filename,
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        blob_key=put_blob(data),
        inline=disposition == "inline" or (not disposition and bool(cid)),
        content_id=cid,
    )


def _unpack_tnef(data: bytes, put_blob: Callable[[bytes], str]) -> list[Attachment] | None:
    """The files inside a TNEF container, or None if it cannot be read."""
    try:
        from tnefparse import TNEF

        tnef = TNEF(data, do_checksum=False)
        files = []
        for i, att in enumerate(tnef.attachments, 1):
            try:
                name = att.long_filename() or att.name
            except Exception:
                name = att.name
            if isinstance(name, bytes):
                name = name.decode("cp1252", "replace")
            name = safe_name(str(name).strip("\x00")) or f"attachment-{i}.bin"
            payload = att.data if isinstance(att.data, bytes) else bytes(att.data or b"")
            ctype = _TYPES.guess_type(name, strict=False)[0] or "application/octet-stream"
            files.append(
                Attachment(
                    filename=name,
                    content_type=ctype,
                    size=len(payload),
                    sha256=hashlib.sha256(payload).hexdigest(),
                    blob_key=put_blob(payload),
                )
            )
        return files
    except Exception:  # any malformed container: keep the original instead
        return None
