"""ISO-2022-JP as Microsoft writes it (CP50220/CP50221), decoded through cp932.

Outlook and Windows Mail label mail "iso-2022-jp" but use the NEC and IBM
extension rows of Windows-31J inside the JIS escapes: circled numbers (①),
Roman numerals, ㈱. Python's iso2022_jp codecs (all six variants) reject
those bytes, and the part then came out as raw escape sequences. The
escapes are simple, and each JIS X 0208 pair maps arithmetically onto a
Shift-JIS pair, so the text is re-encoded as Shift-JIS and decoded with
cp932, which knows the extensions.
"""

from __future__ import annotations

_ASCII, _KATAKANA, _DOUBLE = 0, 1, 2
_ESCAPES = {
    b"\x1b(B": _ASCII,
    b"\x1b(J": _ASCII,
    b"\x1b(I": _KATAKANA,
    b"\x1b$B": _DOUBLE,
    b"\x1b$@": _DOUBLE,
    b"\x1b&@\x1b$B": _DOUBLE,
}


def decode(data: bytes) -> str | None:
    """The text, or None for an escape this decoder does not know (ISO-2022-JP-2's
    Chinese and Korean sets) or a byte outside 7 bits."""
    out = bytearray()
    mode = _ASCII
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x1B:
            for esc, new_mode in _ESCAPES.items():
                if data.startswith(esc, i):
                    mode, i = new_mode, i + len(esc)
                    break
            else:
                return None
            continue
        if b == 0x0E:  # SO / SI: halfwidth katakana in CP50222
            mode, i = _KATAKANA, i + 1
            continue
        if b == 0x0F:
            mode, i = _ASCII, i + 1
            continue
        if b > 0x7F:
            return None
        if b in (0x0A, 0x0D) or mode == _ASCII:
            out.append(b)
            if b in (0x0A, 0x0D):
                mode = _ASCII if mode == _KATAKANA else mode
            i += 1
        elif mode == _KATAKANA:
            out.append(b + 0x80 if 0x21 <= b <= 0x5F else b)
            i += 1
        else:
            if i + 1 >= n or not (0x21 <= b <= 0x7E and 0x21 <= data[i + 1] <= 0x7E):
                out.append(b)  # a lone byte where a pair should be: keep it as ASCII
                i += 1
                continue
            out += _jis_to_sjis(b, data[i + 1])
            i += 2
    return out.decode("cp932", "replace")


def _jis_to_sjis(j1: int, j2: int) -> bytes:
    s1 = ((j1 - 0x21) >> 1) + 0x81
    if s1 > 0x9F:
        s1 += 0x40
    if j1 & 1:
        s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0)
    else:
        s2 = j2 + 0x7E
    return bytes((s1, s2))
