"""Bytes to text for any charset a mail client may declare, never raising.

Mail lies about its charset: Windows clients label cp1252 text "iso-8859-1",
old ones send 8-bit text labelled "us-ascii" or nothing, and some labels
(``x-foo``, ``unknown-8bit``) name nothing at all. Headers and bodies share
this one decoder so they repair the same way. Each repair is reported as a
short warning string; the text is always returned.
"""

from __future__ import annotations

import codecs
from functools import lru_cache

from helpline.ingest.decoding import clean_text
from helpline.ingest.email import iso2022jp

# Labels that mean "a superset is what was really sent" (the WHATWG Encoding
# standard maps them the same way, which is what browsers show people).
_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso_8859-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "ks_c_5601": "cp949",
    "big5": "big5hkscs",
    "iso-8859-8-i": "iso-8859-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-1-1-utf-7": "utf-7",
    "utf7": "utf-7",
    "csunicode11utf7": "utf-7",
    "iso-2022-jp-ms": "iso2022_jp_ext",
    "cp50220": "iso2022_jp",
    "cp50221": "iso2022_jp_ext",
    "cp50222": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp",
    "iso-2022-jp-3": "iso2022_jp_3",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "x-euc-tw": "big5hkscs",
    "x-windows-949": "cp949",
    "utf8": "utf-8",
    "cp-1252": "cp1252",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
}

# Tried in order after the declared codec when it fails: Japanese mail in
# particular uses vendor extensions of iso-2022-jp that the strict codec rejects.
_RELATIVES = {
    "iso2022_jp": ("iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_ext"),
    "euc_jp": ("euc_jis_2004", "cp932"),
}

# Labels that promise nothing: 8-bit bytes under them are UTF-8 or cp1252.
_NO_CHARSET = {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default"}

# Python codecs that are not charsets: never let a sender pick them.
_FORBIDDEN = {
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "punycode",
    "undefined",
    "charmap",
    "mbcs",
    "oem",
    "unicode_internal",
    "palmos",
}


@lru_cache(maxsize=256)
def lookup(label: str | None) -> str | None:
    """Canonical Python codec name for a MIME charset label, or None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    name = _SUPERSETS.get(name, name)
    for candidate in (name, name[2:] if name.startswith("x-") else None):
        if not candidate:
            continue
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError):
            continue
        if not getattr(info, "_is_text_encoding", True) or info.name in _FORBIDDEN:
            return None
        return info.name
    return None


def clean(text: str) -> str:
    """Make text safe for UTF-8 JSON and SQL: the one cleaning every channel uses."""
    return clean_text(text)


def decode(data: bytes, label: str | None, warnings: list[str] | None = None) -> str:
    """Decode ``data`` declared as ``label``; on failure fall back to UTF-8,
    then cp1252 (which maps nearly every byte), appending a warning."""
    name = (label or "").strip().strip("\"'").lower()
    try:
        if b"\x1b" in data and not name.startswith("iso-2022") and not name.startswith("iso2022"):
            escaped = _iso2022(data)  # 7-bit Japanese/Korean mail labelled ascii, or not at all
            if escaped is not None:
                return clean(escaped)
        if name in _NO_CHARSET:
            if data.isascii():
                return clean(data.decode("ascii"))
            if name in ("us-ascii", "ascii"):
                _warn(warnings, f"charset_mismatch:{name}")
            return _fallback(data)
        codec = lookup(name)
        if codec is None:
            _warn(warnings, f"unknown_charset:{_short(name)}")
            return _fallback(data)
        for candidate in (codec, *_RELATIVES.get(codec, ())):
            try:
                return clean(data.decode(candidate))
            except (UnicodeError, LookupError):
                continue
        if codec.startswith("iso2022_jp"):  # Outlook's CP50221 extensions (①, ㈱)
            text = iso2022jp.decode(data)
            if text is not None:
                return clean(text)
        _warn(warnings, f"charset_mismatch:{_short(name)}")
        return _fallback(data)
    except Exception:  # a codec's own bug must not lose the message
        _warn(warnings, f"charset_mismatch:{_short(name)}")
        return clean(data.decode("utf-8", "replace"))


_ISO2022_ESCAPES = (b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b(I", b"\x1b$(D", b"\x1b$(Q", b"\x1b$A", b"\x1b$)C")


def _iso2022(data: bytes) -> str | None:
    """Text with ISO-2022 escape sequences, whatever the label said, or None."""
    if not any(e in data for e in _ISO2022_ESCAPES):
        return None
    for codec in ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_kr"):
        try:
            return data.decode(codec)
        except UnicodeError:
            continue
    return iso2022jp.decode(data)


def _fallback(data: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8, else the charset detected with
    the message's declared charsets preferred (``detect``), else cp1252."""
    try:
        return clean(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return clean(unlabelled(data))


def unlabelled(data: bytes) -> str:
    """Non-UTF-8 bytes with no usable label, decoded by detection."""
    from helpline.ingest.email import detect

    hints = [c for c in (lookup(label) for label in detect.declared()) if c]
    found = detect.guess(data, hints)
    return found[1] if found else data.decode("cp1252", "replace")


def _short(label: str) -> str:
    return "".join(c for c in label.strip().strip("\"'").lower()[:40] if c.isprintable() and c != " ")


def _warn(warnings: list[str] | None, msg: str) -> None:
    if warnings is not None and msg not in warnings:
        warnings.append(msg)
