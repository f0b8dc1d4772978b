"""Who a request came from: the peer, or behind trusted reverse proxies the client they forwarded for.

Used by every per-address limit (the contact form's, the API's): ``X-Forwarded-For`` counts only
when the peer is one of ``HELPLINE_HTTP_TRUSTED_PROXIES``, or anyone could claim any address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web


def client_address(request: web.Request, trusted: tuple[str, ...]) -> str:
    """The visitor's address: the peer, or behind trusted proxies the last hop they did not add."""
    peer, trusted = request.remote or "", tuple(trusted)
    hops = [peer] + [h.strip() for h in reversed(request.headers.get("X-Forwarded-For", "").split(",")) if h.strip()]
    for hop in hops:
        if not _trusted(hop, trusted):
            return hop
    return hops[-1]


def is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    """Is ``address`` one of the ``trusted`` proxies' (addresses or networks)? Also for the API's limits."""
    return _trusted(address, tuple(trusted))


@lru_cache(maxsize=4096)  # every API request asks (api_limits): parse each address and network once
def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
