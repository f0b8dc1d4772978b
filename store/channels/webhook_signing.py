"""Webhook sources and their signatures, shared by the inbound API and outbound events.

A source is an application that posts to ``POST /api/v1/messages`` and may get
ticket events back. It signs every request with its secret:
``X-Helpline-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``,
the timestamp being Unix seconds in ``X-Helpline-Timestamp``. Putting the
timestamp inside the MAC is what makes an old request useless to replay once
it falls outside the tolerance window. Outbound events are signed the same
way, so a receiver needs one verification routine for both directions.

It lives in ``store`` because both ``ingest`` (verifying) and ``notifier``
(signing) need it and neither may import the other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Iterable
from urllib.parse import urlsplit

from helpline.store.config import ConfigError

TOLERANCE_S = 300  # a timestamp further than this from our clock, either way, is refused
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


def _pairs(value: str, variable: str, *, secret: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i, item in enumerate(p.strip() for p in value.split(",")):
        if not item:
            continue
        name, sep, rest = item.partition("=")
        name, rest = name.strip(), rest.strip()
        shown = f"entry {i + 1}" if secret else repr(item)
        if not sep or not rest:
            raise ConfigError(f"{variable}: {shown} is not NAME=VALUE")
        if not _NAME.match(name):
            raise ConfigError(f"{variable}: source name {name!r} must be 1-63 letters, digits, '.', '_' or '-'")
        out.append((name, rest))
    return out


def parse_sources(value: str) -> dict[str, tuple[str, ...]]:
    """``HELPLINE_WEBHOOK_SOURCES`` (``name=secret,…``) as name -> secrets, newest first.

    A name given twice accepts both secrets, so a source can change its secret
    without a moment in which its requests fail (add the new one, switch the
    sender, drop the old one). The secrets never appear in an error message."""
    sources: dict[str, list[str]] = {}
    for name, secret in _pairs(value, "HELPLINE_WEBHOOK_SOURCES", secret=True):
        if len(secret) < 16:
            raise ConfigError(
                f"HELPLINE_WEBHOOK_SOURCES: the secret of source {name!r} is shorter than 16 characters; "
                "make one with: openssl rand -hex 32"
            )
        sources.setdefault(name, []).append(secret)
    return {k: tuple(v) for k, v in sources.items()}


def parse_callbacks(value: str, sources: Iterable[str] | None = None) -> dict[str, str]:
    """``HELPLINE_WEBHOOK_CALLBACKS`` (``name=url,…``) as name -> URL.

    Only a source with a secret can have a callback: events are signed with it."""
    known = set(sources) if sources is not None else None
    out: dict[str, str] = {}
    for name, url in _pairs(value, "HELPLINE_WEBHOOK_CALLBACKS", secret=False):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"HELPLINE_WEBHOOK_CALLBACKS: {name}={url!r} is not an http(s) URL")
        if known is not None and name not in known:
            raise ConfigError(
                f"HELPLINE_WEBHOOK_CALLBACKS names source {name!r}, which has no secret in "
                "HELPLINE_WEBHOOK_SOURCES (events are signed with it)"
            )
        if name in out:
            raise ConfigError(f"HELPLINE_WEBHOOK_CALLBACKS names source {name!r} twice")
        out[name] = url
    return out


def parse_rates(value: Iterable[str]) -> dict[str, int]:
    """``HELPLINE_WEBHOOK_SOURCE_RATES`` (``name=N`` items) as name -> requests per minute (0: no limit)."""
    out: dict[str, int] = {}
    for name, raw in _pairs(",".join(value), "HELPLINE_WEBHOOK_SOURCE_RATES", secret=False):
        try:
            rate = int(raw)
        except ValueError:
            rate = -1
        if rate < 0:
            raise ConfigError(
                f"HELPLINE_WEBHOOK_SOURCE_RATES: {name}={raw!r} is not a whole number of requests "
                "per minute (0: no limit)"
            )
        out[name] = rate
    return out


def signature(secret: str, timestamp: str | int, body: bytes) -> str:
    """The ``X-Helpline-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def timestamp_error(timestamp: str, now: float, tolerance_s: int = TOLERANCE_S) -> str:
    """Why ``timestamp`` is unacceptable, or "" when it is within the window."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return "X-Helpline-Timestamp must be Unix seconds (digits only)"
    skew = int(timestamp) - now
    if abs(skew) > tolerance_s:
        side = "ahead of" if skew > 0 else "behind"
        return (
            f"X-Helpline-Timestamp is {abs(skew):.0f} s {side} the server clock (limit {tolerance_s} s); "
            "sign each request when it is sent and keep the sender's clock synchronised"
        )
    return ""


def signature_valid(secrets: Iterable[str], timestamp: str, body: bytes, header: str) -> bool:
    """Constant-time check of ``header`` against every secret of the source."""
    m = _SIGNATURE.match(header.strip())
    if not m:
        return False
    given = "sha256=" + m.group(1).lower()
    ok = False
    for secret in secrets:  # no early exit: the time taken does not tell which secret matched
        ok |= hmac.compare_digest(signature(secret, timestamp, body), given)
    return ok
