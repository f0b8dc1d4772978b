"""Header access and RFC 2047 decoding that survive real-world junk.

``Headers`` indexes a message's raw header lines once (``Message.get`` scans
the whole list on every call, and a sender chooses how long it is).
``decode_words`` is our own RFC 2047 decoder rather than
``email.header.decode_header`` because mail in the wild splits one multi-byte
character across two encoded words, puts encoded words next to plain text
without a space, and names charsets Python does not know; all of these must
decode best effort through ``charsets.decode``. Raw 8-bit bytes in a header
(RFC 6532 UTF-8, or a legacy cp1252 client) arrive from the stdlib parser as
surrogate escapes and are repaired here.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.message import Message

from helpline.ingest.email import charsets

# Payloads may hold spaces and tabs: clients write "=?us-ascii?Q?Re: Your order?=" and "?Q? Text".
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\r\n]*?)\?=")
_BETWEEN_WORDS = re.compile(r"^[ \t\r\n]+$")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


class Headers:
    """Lower-cased name -> list of raw values, in message order (topmost first)."""

    def __init__(self, msg: Message, warnings: list[str]):
        self._raw: dict[str, list[str]] = {}
        self.warnings = warnings
        for name, value in msg.raw_items():
            self._raw.setdefault(name.strip().lower(), []).append(value if isinstance(value, str) else str(value))

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def names(self):
        return self._raw.keys()

    def raw(self, name: str) -> str:
        """First raw value, unfolded and with 8-bit bytes repaired, not RFC 2047 decoded."""
        values = self._raw.get(name)
        return unfold(fix_8bit(values[0], self.warnings, name)) if values else ""

    def raw_all(self, name: str) -> list[str]:
        return [unfold(fix_8bit(v, self.warnings, name)) for v in self._raw.get(name, ())]

    def text(self, name: str) -> str:
        """First value decoded for display (RFC 2047, any charset), one line."""
        return " ".join(decode_words(self.raw(name), self.warnings).split())


def part_header(part: Message, name: str) -> str:
    """One header of a MIME part as text, from the raw value: ``Message.get``
    returns an ``email.header.Header`` instead of a str when it holds 8-bit bytes."""
    name = name.lower()
    for key, value in part.raw_items():
        if key.lower() == name:
            return unfold(fix_8bit(value if isinstance(value, str) else str(value)))
    return ""


def unfold(value: str) -> str:
    return _FOLD.sub("", value).strip()


def fix_8bit(value: str, warnings: list[str] | None = None, name: str = "") -> str:
    """Turn surrogate-escaped raw bytes into text: UTF-8 if valid, else the
    detected charset (``charsets.unlabelled``)."""
    if value.isascii():
        if "\x1b" in value:  # raw ISO-2022-JP in a header, as old Japanese mailers write it
            return charsets.decode(value.encode("ascii"), None)
        return value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # already real text (a str message), keep it
        return charsets.clean(value)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if warnings is not None and f"8bit_header:{name}" not in warnings:
            warnings.append(f"8bit_header:{name}")
        return charsets.clean(charsets.unlabelled(data))


def decode_words(value: str, warnings: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words; adjacent words of one charset are joined
    as bytes first so a character split across them survives."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # (charset, bytes) of adjacent words
    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        if gap and not (pending and _BETWEEN_WORDS.match(gap)):
            _flush(pending, out, warnings)
            out.append(gap)
        charset, enc, payload = m.group(1), m.group(2).lower(), m.group(3)
        data = _b_decode(payload) if enc == "b" else _q_decode(payload)
        if data is None:
            _flush(pending, out, warnings)
            out.append(m.group(0))
        elif pending and _same_charset(pending[-1][0], charset.lower()):
            pending[-1] = (pending[-1][0], pending[-1][1] + data)
        else:
            pending.append((charset.lower(), data))
        pos = m.end()
    _flush(pending, out, warnings)
    out.append(value[pos:])
    return "".join(out)


def _same_charset(a: str, b: str) -> bool:
    """ "utf-8" and "UTF8" are one charset: a character split across them must be joined."""
    return a == b or (charsets.lookup(a) or a) == (charsets.lookup(b) or b)


def _flush(pending: list[tuple[str, bytes]], out: list[str], warnings: list[str] | None) -> None:
    for charset, data in pending:
        out.append(charsets.decode(data, charset, warnings))
    pending.clear()


def _b_decode(payload: str) -> bytes | None:
    payload = "".join(payload.split())
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _q_decode(payload: str) -> bytes:
    raw = payload.replace("_", " ").encode("utf-8", "replace")  # 8-bit junk inside a word
    return _QP_HEX.sub(lambda m: bytes((int(m.group(1), 16),)), raw)
