"""SMS text arithmetic, plain functions: how many segments a text costs, and
how a text longer than one API call is split.

A segment is what a carrier bills: 160 GSM-7 septets (153 when concatenated,
the rest is the concatenation header), or 70 UCS-2 code units (67 when
concatenated) once a single character is outside the GSM-7 alphabet. The GSM
extension characters (``^{}\\[~]|€`` and form feed) take two septets, an escape
and the character, and neither an escape pair nor a UTF-16 surrogate pair is
split across two segments.

Twilio takes up to 1,600 characters in one Messages API call and concatenates
the segments itself; a longer text goes out as several calls, cut at sentence
boundaries (else at a space, else anywhere) and numbered "(1/2) ", "(2/2) ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BODY = 1600  # characters (UTF-16 code units) Twilio accepts in one message

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int  # segments billed


def _utf16_units(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def _pack(costs: list[int], single: int, multi: int) -> int:
    """Segments needed for characters of these costs; no character split across two."""
    total = sum(costs)
    if total <= single:
        return 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            count, used = count + 1, 0
        used += cost
    return count


def segments(text: str) -> Segments:
    """The encoding a carrier uses for ``text`` and the segments it costs (at least 1)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return Segments("GSM-7", sum(costs), _pack(costs, 160, 153))
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return Segments("UCS-2", sum(costs), _pack(costs, 70, 67))


_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s)|\n")


def _fit(text: str, budget: int) -> int:
    """How many characters of ``text`` fit in ``budget`` UTF-16 code units."""
    used = 0
    for i, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > budget:
            return i
    return len(text)


def _cut(text: str, budget: int) -> list[str]:
    chunks: list[str] = []
    rest = text
    while _utf16_units(rest) > budget:
        window = rest[: _fit(rest, budget)]
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        cut = ends[-1] if ends else 0
        if cut < len(window) // 3:  # no sentence end in reach (or only a tiny first one): a space will do
            space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
            cut = space + 1 if space > 0 else len(window)
        chunks.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        chunks.append(rest.strip())
    return [c for c in chunks if c]


def split_body(text: str, limit: int = MAX_BODY) -> list[str]:
    """``text`` as the bodies of consecutive API calls, each at most ``limit`` characters.

    One body when it fits; otherwise sentence-sized chunks, each prefixed
    "(i/n) " (the prefix counted in the limit)."""
    text = text.strip()
    if _utf16_units(text) <= limit:
        return [text]
    digits = 1
    while True:
        reserve = len(f"({'9' * digits}/{'9' * digits}) ")
        chunks = _cut(text, limit - reserve)
        if len(str(len(chunks))) <= digits:
            break
        digits += 1
    n = len(chunks)
    return [f"({i}/{n}) {chunk}" for i, chunk in enumerate(chunks, 1)]
