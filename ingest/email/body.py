"""A MIME part's bytes and text: transfer decoding and charset decoding, best effort.

``payload_bytes`` always asks the standard library for the *decoded bytes*
(``get_payload(decode=True)``): without ``decode`` it returns text that it
has already decoded with the declared charset and ``errors="replace"``,
which turns cp1252 bytes mislabelled as UTF-8 into "\ufffd" before we can
repair them. Base64 damage (truncated mail) is decoded as far as it goes and
reported. ``part_text`` then decodes with the declared charset through
``charsets.decode``, which is also where mail-parser 4.8.0 goes wrong
(iso-2022-jp bodies left undecoded).
"""

from __future__ import annotations

import binascii
import re
from email import errors
from email.message import Message
from email.policy import Compat32

from helpline.ingest.email import charsets

_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/]")
_B64_DEFECTS = (
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64LengthDefect,
)


def payload_bytes(part: Message, warnings: list[str]) -> bytes:
    """The decoded content of a leaf part; a message/* or multipart part serialised."""
    if part.is_multipart():
        return b"".join(_serialise(p) for p in part.get_payload() if isinstance(p, Message))
    large = _large_base64(part)
    if large is not None:
        return large
    seen = len(part.defects)
    data = part.get_payload(decode=True)
    if any(isinstance(d, _B64_DEFECTS) for d in part.defects[seen:]) and "bad_base64" not in warnings:
        warnings.append("bad_base64")
    return data if isinstance(data, bytes) else b""


_LARGE_PAYLOAD = 64 * 1024


def _large_base64(part: Message) -> bytes | None:
    """A big base64 payload decoded in one step. ``get_payload(decode=True)``
    encodes the text to bytes, splits it into a list of lines, joins them and
    decodes: about seven times the payload in transient memory (37 MB for a
    5 MB attachment); ``a2b_base64`` reads the str directly and skips the line
    breaks. None (use the stdlib) for small or damaged payloads."""
    # As parsed, read from the instance (typeshed does not declare the attribute): get_payload() would first
    # encode the whole str to look for surrogate-escaped bytes.
    payload = vars(part).get("_payload")
    if not isinstance(payload, str) or len(payload) < _LARGE_PAYLOAD:
        return None
    if str(part.get("content-transfer-encoding", "")).strip().lower() != "base64" or not payload.isascii():
        return None
    try:
        return binascii.a2b_base64(payload)
    except binascii.Error:
        return None


def part_text(part: Message, warnings: list[str]) -> str:
    """A text part as str, line endings normalised to ``\\n``."""
    data = payload_bytes(part, warnings)
    text = charsets.decode(data, part.get_content_charset(), warnings)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def b64decode(raw: bytes, warnings: list[str]) -> bytes:
    """Lenient base64 for bytes the parser did not treat as base64 (see attachments)."""
    try:
        return binascii.a2b_base64(raw, strict_mode=False)
    except binascii.Error:
        pass
    data = _NOT_B64.sub(b"", raw.split(b"=", 1)[0])
    usable = len(data) - len(data) % 4
    if len(data) % 4 == 1:  # one stray character cannot encode a byte
        data = data[:usable]
    if "bad_base64" not in warnings:
        warnings.append("bad_base64")
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return b""


class _Verbatim(Compat32):
    """Write headers exactly as they arrived: the stdlib re-encodes and
    refolds each one through ``email.header.Header``, which changes the bytes
    of an attached message and costs most of the time spent writing it."""

    def fold_binary(self, name, value):
        return f"{name}: {value}{self.linesep}".encode("utf-8", "surrogateescape")


_VERBATIM = _Verbatim()


def _serialise(msg: Message) -> bytes:
    """A message/rfc822 (or report block) payload as bytes, 8-bit content preserved."""
    try:
        return msg.as_bytes(policy=_VERBATIM)
    except Exception:  # a malformed part the generator cannot write
        return msg.as_string().encode("utf-8", "surrogateescape")
