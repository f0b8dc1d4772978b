"""Address headers to (name, address) pairs, and undoing mailing-list From rewriting.

Parsing uses mail-parser's ``get_addresses``: it validates each list member
on its own, recovers the plausible mailbox from malformed ones and says
why, and decodes RFC 2047 display names only where RFC 2047 allows them.
That is the part of mail-parser worth its cost here. A name left encoded
(quoted encoded words, which Outlook writes, or an unknown charset) is
decoded afterwards with our lenient decoder.

Mailing lists that rewrite ``From`` for DMARC ("Alice via Support"
<support@googlegroups.com>) hide the real author; ``list_original_author``
recovers it from ``X-Original-From`` or ``Reply-To``.
"""

from __future__ import annotations

import re

from mailparser.utils import get_addresses

from helpline.ingest.email.headers import Headers, decode_words

_ADDR = r"[^<>\s@,;:\"()\[\]\\]+@[^<>\s@,;:\"()\[\]\\]+"
_ITEM = re.compile(  # one list member and its comma; groups: quoted name, name, <addr>, bare addr
    r'\s*(?:(?:"([^"\\]*)"|([^<>@,;:"()\[\]\\]*?))\s*<(' + _ADDR + r")>|(" + _ADDR + r"))\s*(?:,|$)"
    r"|\s*,|\s+$"
)
_VIA = re.compile(r"^\s*['\"]?(?P<name>.*?)['\"]?\s+via\s+(?P<list>.+?)\s*$", re.IGNORECASE)


def parse(raw: str, warnings: list[str] | None = None, header: str = "", lower: bool = True) -> list[tuple[str, str]]:
    """Every mailbox in an address header, address lower-cased (unless ``lower``
    is false: a reply token's case matters), name decoded."""
    if not raw or not raw.strip():
        return []
    problems: list[dict] = []
    pairs = _simple(raw)
    if pairs is None:
        try:
            pairs = get_addresses(raw, defects=problems, decode_names=True)
        except Exception:  # a parser bug must not lose the message
            pairs, problems = [], [{"recovered": False}]
    if warnings is not None and any(not p.get("recovered") for p in problems):
        tag = f"bad_address:{header}"
        if tag not in warnings:
            warnings.append(tag)
    out = []
    for name, addr in pairs:
        if not addr or "@" not in addr:
            continue
        name = name.strip()
        if len(name) > 1 and name[0] == name[-1] and name[0] in "\"'":
            name = name[1:-1].strip()
        if "=?" in name:
            name = decode_words(name, warnings)
        addr = addr.strip()
        out.append((" ".join(name.split()), addr.lower() if lower else addr))
    return out


def _simple(raw: str) -> list[tuple[str, str]] | None:
    """Fast path for the plain forms most headers use (``a@b``, ``Name <a@b>``,
    ``"Last, First" <a@b>``); None sends anything else (escapes, comments,
    encoded words, groups, 8-bit text) to mail-parser, three times slower."""
    if "\\" in raw or "(" in raw or "=?" in raw or ";" in raw or not raw.isascii():
        return None
    out, pos, end = [], 0, len(raw)
    while pos < end:
        m = _ITEM.match(raw, pos)
        if not m:
            return None
        if m.group(3) or m.group(4):
            out.append(((m.group(1) or m.group(2) or "").strip(), m.group(3) or m.group(4)))
        pos = m.end()
    return out


_LOOSE_ADDR = re.compile(r"<?([^\s<>\"(),;:\[\]]+@[^\s<>\"(),;:\[\]]+?)>?(?=$|[\s,;])")
_COMMENT = re.compile(r"\(([^()]*)\)")
_BARE_LOCAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}$")


def recover(raw: str) -> tuple[str, str] | None:
    """The mailbox in a From that no parser accepts, keeping the display name:
    ``power quadrant system@example.com`` (no angle brackets), ``Test
    test@example.com``, or ``MAILER-DAEMON (Mail Delivery System)`` with no
    domain (the bare word is returned as the address, lower-cased)."""
    if not raw or not raw.strip():
        return None
    comments = [c.strip() for c in _COMMENT.findall(raw) if c.strip()]
    text = " ".join(_COMMENT.sub(" ", raw).split())
    found = list(_LOOSE_ADDR.finditer(text))
    if found:
        m = found[-1]
        address = m.group(1).strip(".")
        name = (text[: m.start()] + " " + text[m.end() :]).strip(" \t\"'<>,;:")
    else:
        word = text.strip(" \t\"'<>,;:")
        if not _BARE_LOCAL.match(word):
            return None
        address, name = word, ""
    name = name or (comments[0] if comments else "")
    if "=?" in name:
        name = decode_words(name)
    return " ".join(name.strip("\"'").split()), address.lower()


def first(raw: str, warnings: list[str] | None = None, header: str = "") -> tuple[str, str]:
    pairs = parse(raw, warnings, header)
    return pairs[0] if pairs else ("", "")


def split(address: str) -> tuple[str, str]:
    """(local part, domain), both as written; a bare ``mailer-daemon`` is all local part."""
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, "")


def list_original_author(sender: tuple[str, str], headers: Headers, warnings: list[str]) -> tuple[str, str] | None:
    """The real author of a message whose From a mailing list rewrote, or None.

    Only when the display name says "X via List" and the message really came
    through a list (List-Id, or a Google Groups address): ``X-Original-From``
    and ``Reply-To`` are written by the sender, so without the list signals
    they would let anyone pick an author.
    """
    name, addr = sender
    via = _VIA.match(name or "")
    if not via or not addr:
        return None
    if "list-id" not in headers and not split(addr)[1].endswith("googlegroups.com"):
        return None
    for header in ("x-original-from", "reply-to"):
        for cand_name, cand_addr in parse(headers.raw(header), warnings, header):
            if cand_addr != addr:
                return (cand_name or via.group("name").strip(), cand_addr)
    return None
