"""A client of ClamAV's daemon (clamd) for one command: INSTREAM, the bytes of one file in, a verdict out.

The protocol (clamd(8)): send ``zINSTREAM\\0``, then the file as chunks each
prefixed by its length (4 bytes, big-endian), then a zero length; clamd
answers one NUL-terminated line: ``stream: OK``, ``stream: NAME FOUND``, or
``INSTREAM size limit exceeded. ERROR`` when the file is over its
``StreamMaxLength`` (it may close the connection while we still send).

Written out rather than taken from a library: the maintained one
(clamav-client) is GPL-2.0, which an Apache-2.0 project cannot depend on; the
protocol is a dozen lines; and the deadline must cover the whole exchange (a
clamd that accepts and never answers must not hold a download or a worker),
which per-call socket timeouts alone do not give.

``HELPLINE_CLAMD_SOCKET`` is a unix socket path (``/run/clamav/clamd.ctl``)
or ``host:port``. ``scan`` raises ``ClamdUnavailable`` when clamd cannot be
reached or does not answer in time: the caller fails closed and scans again
later. A file clamd refuses to scan (too large, an error) is ``unscannable``:
kept, but treated as unsafe.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

CHUNK = 256 * 1024
CLEAN, INFECTED, UNSCANNABLE = "clean", "infected", "unscannable"


class ClamdUnavailable(Exception):
    """clamd could not be reached, or did not answer within the deadline; nothing was decided."""


@dataclass(frozen=True)
class Verdict:
    status: str  # clean, infected, unscannable
    detail: str = ""  # the signature's name, or why it could not be scanned


def _connect(address: str, timeout: float) -> socket.socket:
    address = address.strip()
    if address.startswith("/") or "/" in address:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = address
    else:
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ClamdUnavailable(f"HELPLINE_CLAMD_SOCKET={address!r} is neither a socket path nor host:port")
        sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, socket.SOCK_STREAM)
        target = (host.strip("[]"), int(port))
    sock.settimeout(timeout)
    try:
        sock.connect(target)  # type: ignore[arg-type]
    except OSError as exc:
        sock.close()
        raise ClamdUnavailable(f"cannot reach clamd at {address}: {exc.strerror or exc}") from None
    return sock


def parse_reply(line: str) -> Verdict:
    """The verdict in clamd's answer to INSTREAM."""
    text = line.strip("\0 \r\n")
    body = text.partition(":")[2].strip() if text.startswith("stream:") else text
    if body == "OK":
        return Verdict(CLEAN)
    if body == "FOUND" or body.endswith(" FOUND"):
        return Verdict(INFECTED, body[: -len("FOUND")].strip()[:200] or "unknown")
    if "size limit exceeded" in body:
        return Verdict(UNSCANNABLE, "larger than clamd's StreamMaxLength")
    return Verdict(UNSCANNABLE, f"clamd: {body[:200] or 'no answer'}")


def scan(address: str, data: bytes, *, timeout: float = 30.0) -> Verdict:
    """Scan ``data``; the whole exchange must finish within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    sock = _connect(address, timeout)

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClamdUnavailable(f"clamd did not answer within {timeout:g} s")
        return remaining

    try:
        refused = False
        try:
            sock.settimeout(left())
            sock.sendall(b"zINSTREAM\0")
            view = memoryview(data)
            for start in range(0, len(view), CHUNK):
                piece = view[start : start + CHUNK]
                sock.settimeout(left())
                sock.sendall(struct.pack("!L", len(piece)) + piece)
            sock.settimeout(left())
            sock.sendall(struct.pack("!L", 0))
        except (BrokenPipeError, ConnectionResetError):
            refused = True  # clamd stopped reading: over StreamMaxLength; its answer may still be there
        except socket.timeout:
            raise ClamdUnavailable(f"clamd did not take the file within {timeout:g} s") from None
        reply = b""
        while not reply.endswith(b"\0") and len(reply) < 4096:
            try:
                sock.settimeout(left())
                got = sock.recv(4096)
            except socket.timeout:
                raise ClamdUnavailable(f"clamd did not answer within {timeout:g} s") from None
            except (ConnectionResetError, OSError):
                got = b""
            if not got:
                break
            reply += got
        if not reply:
            if refused:
                return Verdict(UNSCANNABLE, "clamd closed the stream (larger than its StreamMaxLength?)")
            raise ClamdUnavailable("clamd closed the connection without an answer")
        return parse_reply(reply.decode("utf-8", "replace"))
    finally:
        sock.close()
