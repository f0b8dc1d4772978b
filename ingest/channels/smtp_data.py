"""Reading an SMTP DATA section up to its ``CRLF.CRLF`` terminator, whatever the TCP splits.

Why not 64 KiB reads scanned for the terminator: bytes written to the body
before the next read arrives cannot be taken back, so a client whose
``\\r\\n.`` and ``\\r\\n`` came in two reads left a ``.`` at the end of the
stored message. And bytes read past the terminator (a pipelined next command)
had to be pushed back into the reader's private buffer.

Here the reader's public ``readuntil`` finds ``\\n.\\r\\n``; the byte before it
(kept from the previous read when the match starts a read) says whether it is
the terminator or a bare LF before a lone dot. The latter is refused
(``BareLineFeed``), as Postfix's ``smtpd_forbid_bare_newline`` does: no real
client sends it, it is the SMTP smuggling pattern, and a message made of
nothing else would cost a ``readuntil`` call per five bytes, holding the
event loop for seconds. Nothing past the terminator is ever read, so nothing
is pushed back. A read that cannot find it within the reader's limit gives
back, through ``LimitOverrunError.consumed``, only bytes that cannot hold the
terminator's ``\\n``: lines of any length cost no memory beyond the limit.
Only at the start of DATA can the stream itself begin with ``.\\r\\n`` (an
empty message); there the first bytes are read on their own.
"""

from __future__ import annotations

import asyncio
from typing import Callable

_SEP = b"\n.\r\n"


class BareLineFeed(ValueError):
    """A lone "." line after a bare LF: neither body nor terminator in any conforming client."""


async def _exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("connection closed during DATA") from exc


async def read_data(reader: asyncio.StreamReader, write: Callable[[bytes], None]) -> int:
    """Pass the DATA section, still dot-stuffed and ending with the CRLF of its
    last line, to ``write`` in pieces; return its size. The terminator is consumed.
    Raises ``BareLineFeed`` (the rest of the section is left unread)."""
    head = await _exactly(reader, 1)
    if head == b".":
        head += await _exactly(reader, 2)
        if head == b".\r\n":  # an empty message
            return 0
    write(head)
    size, last = len(head), head[-1:]
    while True:
        try:
            chunk = await reader.readuntil(_SEP)
        except asyncio.LimitOverrunError as exc:
            chunk = await _exactly(reader, max(1, exc.consumed))
            write(chunk)
            size += len(chunk)
            last = chunk[-1:]
            continue
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("connection closed during DATA") from exc
        before = chunk[-5:-4] if len(chunk) >= 5 else last
        if before != b"\r":
            raise BareLineFeed("a bare LF before a lone '.' line (the SMTP smuggling pattern)")
        piece = chunk[:-3]  # CRLF . CRLF: keep the CRLF, it ends the last line
        write(piece)
        return size + len(piece)
