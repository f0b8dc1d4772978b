"""Which charset undeclared 8-bit text is in: the message's own declared charsets first.

Headers (RFC 5322 says ASCII only) and bodies without a charset label arrive
as raw bytes in whatever the sender's locale used: GBK, Big5, Shift-JIS,
EUC-KR or windows-1252. Reading them as Latin-1 shows agents mojibake.

Two detectors, by length. A header or a file name is a few bytes, and
charset-normalizer's answers on such samples are unreliable (measured on
names and subjects of 4-20 characters: GBK read as cp949, Big5 as UTF-16,
windows-1252 as cp1250), so short samples are scored here by what a
human-written text in each candidate would contain: common ideographs of
that script's own standard (GB2312 level 1, Big5 level 1, JIS level 1),
kana, KS X 1001 Hangul, Latin letters next to ASCII letters, Cyrillic next
to Cyrillic. Longer samples (bodies) go to charset-normalizer, restricted to
the same candidates. Either way a charset the message declares elsewhere
wins whenever the bytes are plausible text in it. Detection runs only on
bytes that are neither ASCII nor valid UTF-8, so ordinary mail never pays.
"""
from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable

_CANDIDATES = ("gb18030", "big5hkscs", "cp932", "cp949", "euc_jp", "cp1252", "cp1251", "iso8859_7", "koi8_r")
_SHORT = 96  # bytes: below this, score; above, ask charset-normalizer
_hints: contextvars.ContextVar[Callable[[], list[str]] | None] = contextvars.ContextVar("charset_hints", default=None)


def with_hints(provider: Callable[[], Iterable[str]]) -> contextvars.Token:
    """Declare, for this context, where the message's declared charsets come
    from (called lazily, at most once: most messages never need it)."""
    cache: list[list[str]] = []

    def lazy() -> list[str]:
        if not cache:
            try:
                cache.append([c for c in provider() if c])
            except Exception:  # a broken part must not cost the header
                cache.append([])
        return cache[0]
    return _hints.set(lazy)


def reset_hints(token: contextvars.Token) -> None:
    _hints.reset(token)


def declared() -> list[str]:
    provider = _hints.get()
    return provider() if provider else []


def guess(data: bytes, hints: Iterable[str] = ()) -> tuple[str, str] | None:
    """(codec, text) for bytes that are not UTF-8, or None when no candidate fits."""
    declared_codecs = [c for c in dict.fromkeys(hints) if c not in ("utf_8", "ascii")]
    decoded: dict[str, str] = {}
    for codec in (*declared_codecs, *_CANDIDATES):
        if codec in decoded:
            continue
        try:
            decoded[codec] = data.decode(codec)
        except (UnicodeError, LookupError):
            continue
    if not decoded:
        return None
    for codec in declared_codecs:  # the message's own charset, when the bytes read as text in it
        if codec in decoded and score(decoded[codec], codec) >= 0.75:
            return codec, decoded[codec]
    if len(data) > _SHORT:
        found = _normalizer(data, list(decoded))
        if found is not None:
            return found
    best = max(decoded, key=lambda c: score(decoded[c], c))
    return best, decoded[best]


def _normalizer(data: bytes, codecs: list[str]) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes
    try:
        best = from_bytes(data, cp_isolation=codecs).best()
    except Exception:  # detector bug: fall back to scoring
        return None
    if best is None:
        return None
    return best.encoding, str(best)


def score(text: str, codec: str) -> float:
    """Mean plausibility per non-ASCII character, from -2 (mojibake) to 2."""
    total = n = 0.0
    prev = " "
    chars = text + " "
    for i, c in enumerate(text):
        o = ord(c)
        if o < 128:
            prev = c
            continue
        n += 1
        nxt = chars[i + 1]
        if 0x3040 <= o <= 0x30FF:  # kana
            total += 2 if codec in ("cp932", "euc_jp") else 0.5
        elif 0xAC00 <= o <= 0xD7A3:  # Hangul: KS X 1001's 2,350 syllables, with the usual vowels and finals
            total += _hangul(o)
        elif 0x4E00 <= o <= 0x9FFF:
            total += 2 if _common_ideograph(c, codec) else 0
        elif 0x3000 <= o <= 0x303F or 0xFF01 <= o <= 0xFF5E:  # CJK and fullwidth punctuation
            total += 1
        elif 0xFF61 <= o <= 0xFF9F:  # halfwidth katakana: rare outside old Japanese systems
            total += 0.25
        elif 0x00C0 <= o <= 0x024F:  # Latin letters: beside ASCII letters in real words
            total += 1 if (prev.isascii() and prev.isalpha()) or (nxt.isascii() and nxt.isalpha()) else -1
        elif 0x0400 <= o <= 0x04FF or 0x0370 <= o <= 0x03FF:  # Cyrillic, Greek: in runs
            total += 1 if _same_script(prev, o) or _same_script(nxt, o) else -0.5
        elif c in "–—‘’‚“”„•…€«»°§©®™£¥±×÷·¡¿":
            total += 0.5
        elif c == "\ufffd" or o < 0xA0 or 0xE000 <= o <= 0xF8FF:
            total -= 2
        else:
            total -= 0.5
        prev = c
    return total / n if n else 0.0


_RARE_VOWELS = frozenset((3, 10, 11, 14, 15, 16))  # ㅒ ㅘ ㅙ ㅝ ㅞ ㅟ
_COMMON_FINALS = frozenset((0, 1, 4, 8, 16, 17, 19, 20, 21))  # none ㄱ ㄴ ㄹ ㅁ ㅂ ㅅ ㅆ ㅇ


def _hangul(o: int) -> float:
    """Chinese bytes read as cp949 give Hangul too, but with rare vowels and finals."""
    if not _encodes(chr(o), "euc_kr"):
        return -1
    s = o - 0xAC00
    return 2.5 if s % 28 in _COMMON_FINALS and (s // 28) % 21 not in _RARE_VOWELS else 0


def _same_script(c: str, o: int) -> bool:
    return ord(c) >> 7 == o >> 7 and c.isalpha()


def _encodes(c: str, codec: str) -> bytes | None:
    try:
        return c.encode(codec)
    except UnicodeError:
        return None


def _common_ideograph(c: str, codec: str) -> bool:
    """In the frequent-character level of the standard the codec belongs to."""
    if codec == "gb18030":
        b = _encodes(c, "gb2312")
        return bool(b) and 0xB0 <= b[0] <= 0xD7
    if codec.startswith("big5"):
        b = _encodes(c, "big5")
        return bool(b) and 0xA4 <= b[0] <= 0xC6
    if codec in ("cp932", "euc_jp"):
        b = _encodes(c, "cp932")
        return bool(b) and 0x88 <= b[0] <= 0x98
    return False
