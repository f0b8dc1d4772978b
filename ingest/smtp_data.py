"""Reading an SMTP DATA section up to its ``CRLF.CRLF`` terminator, whatever the TCP splits.

Why not 64 KiB reads scanned for the terminator: bytes written to the body
before the next read arrives cannot be taken back, so a client whose
``\\r\\n.`` and ``\\r\\n`` came in two reads left a ``.`` at the end of the
stored message. And bytes read past the terminator (a pipelined next command)
had to be pushed back into the reader's private buffer.

Here the reader's public ``readuntil`` finds ``\\n.\\r\\n``; the byte before it
(kept from the previous read when the match starts a read) says whether it is
the terminator or a bare-LF body line. Nothing past the terminator is ever
read, so nothing is pushed back. A read that cannot find it within the
reader's limit gives back, through ``LimitOverrunError.consumed``, only bytes
that cannot hold the terminator's ``\\n``: lines of any length cost no memory
beyond the limit. Only right after a line end (the start of DATA, or after
a bare-LF ``.`` line) can the stream itself begin with ``.\\r\\n``; there three
bytes are read on their own.
"""
from __future__ import annotations

import asyncio
from typing import Callable

_SEP = b"\n.\r\n"


async def _exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("connection closed during DATA") from exc


async def read_data(reader: asyncio.StreamReader, write: Callable[[bytes], None]) -> int:
    """Pass the DATA section, still dot-stuffed and ending with the CRLF of its
    last line, to ``write`` in pieces; return its size. The terminator is consumed."""
    size = 0
    last = b"\n"  # the line end that closed the DATA command
    line_start = True  # everything consumed so far ends with CRLF
    while True:
        if line_start:
            head = await _exactly(reader, 1)
            if head == b".":
                head += await _exactly(reader, 2)
                if head == b".\r\n":
                    return size
            write(head)
            size += len(head)
            last, line_start = head[-1:], False
            continue
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
        if before == b"\r":  # CRLF . CRLF: keep the CRLF, it ends the last line
            piece = chunk[:-3]
            write(piece)
            return size + len(piece)
        write(chunk)  # a bare LF, then a lone dot: body, and the next line may start with "."
        size += len(chunk)
        last, line_start = chunk[-1:], True
