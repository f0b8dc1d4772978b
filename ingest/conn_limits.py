"""Connection caps for the SMTP and public HTTP listeners: per client address and in total.

Why: every open connection costs a file descriptor and some memory, and an
idle or trickling one costs the attacker nothing; without a cap a few
thousand of them exhaust the daemon's descriptors and nothing legitimate gets
in. The per-address cap stops one host from taking them all; the total cap
bounds the daemon. Legitimate traffic often comes from one address (Postfix
in front, a reverse proxy, ``helpline bench``), so those addresses
(HELPLINE_SMTP_TRUSTED_RELAYS, HELPLINE_HTTP_TRUSTED_PROXIES) count only
towards the total. The cap works on the TCP peer: a client's own address
behind a proxy (``X-Forwarded-For``) is not known when the connection opens.

``CappedProtocol`` puts the cap in front of aiohttp's request handler without
touching aiohttp: it answers 503 itself and otherwise hands every callback on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from typing import Any, Callable, Iterable

log = logging.getLogger("helpline.ingest")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressSet:
    """Addresses and networks (``10.0.0.0/8``); anything unparsable matches nothing."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[Network] = []
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


class ConnectionLimiter:
    """Counts open connections; ``admit`` says why one is refused, or "" and counts it."""

    def __init__(self, total: int, per_address: int, exempt: Iterable[str] = ()) -> None:
        self.total = total
        self.per_address = per_address
        self.exempt = AddressSet(exempt)
        self.open: Counter[str] = Counter()
        self.count = 0

    def admit(self, address: str) -> str:
        if self.total and self.count >= self.total:
            return f"too many connections ({self.total} open)"
        if self.per_address and self.open[address] >= self.per_address and address not in self.exempt:
            return f"too many connections from {address} ({self.per_address} open)"
        self.open[address] += 1
        self.count += 1
        return ""

    def release(self, address: str) -> None:
        self.count -= 1
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


def peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    return str(peer or "")


_BODY = b"Too many connections; retry later.\n"
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class CappedProtocol(asyncio.Protocol):
    """aiohttp's protocol behind a connection cap: refused connections get 503 and are closed."""

    def __init__(
        self, make_inner: Callable[[], Any], limiter: ConnectionLimiter, on_refused: Callable[[str], None] | None = None
    ) -> None:
        self._make_inner = make_inner
        self._limiter = limiter
        self._on_refused = on_refused
        self._inner: Any = None
        self._address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._address = peer_address(transport)
        reason = self._limiter.admit(self._address)
        if reason:
            log.warning("event=http_connection_refused reason=%r", reason)
            if self._on_refused:
                self._on_refused(reason)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_REFUSAL)
            # A moment for the request the client already sent to arrive: closing
            # with unread bytes would reset the connection and lose the answer.
            asyncio.get_running_loop().call_later(0.2, transport.close)
            return
        self._inner = self._make_inner()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is not None:
            self._limiter.release(self._address)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


async def serve_capped(
    runner: Any, host: str, port: int, limiter: ConnectionLimiter, on_refused: Callable[[str], None] | None = None
) -> asyncio.AbstractServer:
    """Listen for an aiohttp ``AppRunner`` (set up) behind ``limiter``; the caller closes the server
    before ``runner.cleanup()``. Used instead of ``web.TCPSite``, which takes no protocol wrapper."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: CappedProtocol(runner.server, limiter, on_refused), host, port, reuse_address=True, backlog=512
    )
