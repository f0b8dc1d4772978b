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
_SCORED = 2000  # characters scored at most: a sender picks the length of a header
_hints: contextvars.ContextVar[Callable[[], list[str]] | None] = contextvars.ContextVar("charset_hints", default=None)


def with_hints(provider: Callable[[], Iterable[str | None]]) -> contextvars.Token:
    """Declare, for this context, where the message's declared charsets come
    from (called lazily, at most once: most messages never need it). The
    provider may yield None for parts without a charset (``Message.get_charsets``);
    those are skipped."""
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
        if codec in decoded and score(decoded[codec][:_SCORED], codec) >= 0.75:
            return codec, decoded[codec]
    if len(data) > _SHORT:
        found = _normalizer(data, list(decoded))
        if found is not None:
            return found
    best = max(decoded, key=lambda c: score(decoded[c][:_SCORED], c))
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
        if o >= 0x3040 and (_lower_ascii(prev) or _lower_ascii(nxt)):
            total -= 1  # a double-byte character glued to a lower-case Latin word: "囊gstr闣" for "Ångström"
        elif 0x3040 <= o <= 0x30FF:  # kana
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


# Korean text is mostly a few hundred syllables; Chinese bytes read as cp949 give Hangul too, but
# rarely these. (Hangul is ordered by reading in KS X 1001, so the bytes themselves say nothing.)
_COMMON_HANGUL = frozenset(
    "이다는의에하고을를가지서기로사한정리자수어도대인시나보있주해아구전부것게그라들일상제문만요여원면위성국"
    "적니우소경세오내비장생동학과화무개회방관신중마식실드스트선연분공결물되말각후때유터저안모미합청견계약입치"
    "님습감녕홍길김박최강조윤임권황송양손배백허남심노곽차민류진엄채천현함변염추석설표명반왕금옥육맹탁은편용예"
    "봉복태목형피두음빈온호범좌승간갈단당년월시분초께드림확인바랍니까했습니다었였할수록및또는위해대한관련문의요청"
    "드리겠습니다감사합니다안녕하세요주문배송결제환불취소변경계정로그비밀번호회원가입서비스고객센터담당자연락처"
    "전화번호메일주소첨부파일참고부탁드립니다견적서계약서청구서영수증세금계산서제품상품가격할인이벤트공지사항안내"
    "모든오늘내일어제지금다음이번저희귀사회사팀부서직원처리완료진행중오류문제해결방법"
    "철영희순숙현준혁훈재혜은지수민서윤하준도윤시우주원건우예준현우지호선우서진유진"
)
_RARE_VOWELS = frozenset((3, 10, 15))  # ㅒ ㅙ ㅞ


def _hangul(o: int) -> float:
    """Common syllables score above a common ideograph, other KS X 1001 ones below."""
    c = chr(o)
    if not _encodes(c, "euc_kr"):
        return -1
    if c in _COMMON_HANGUL:
        return 2.5
    return 0 if (o - 0xAC00) // 28 % 21 in _RARE_VOWELS else 1


def _lower_ascii(c: str) -> bool:
    return "a" <= c <= "z"


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
        return b is not None and len(b) > 0 and 0xB0 <= b[0] <= 0xD7
    if codec.startswith("big5"):
        b = _encodes(c, "big5")
        return b is not None and len(b) > 0 and 0xA4 <= b[0] <= 0xC6
    if codec in ("cp932", "euc_jp"):
        b = _encodes(c, "cp932")
        return b is not None and len(b) > 0 and 0x88 <= b[0] <= 0x98
    return False
