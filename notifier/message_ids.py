"""Our own RFC 5322 Message-IDs, recognisable when they come back.

A reply or a delivery status notification quotes the Message-ID of what we
sent; the ``hl.`` prefix plus one of our domains lets the threading and bounce
stages tell our own mail from a customer's without a database look-up.
"""

from __future__ import annotations

import re
import secrets
from typing import Iterable

PREFIX = "hl."
_UNSAFE = re.compile(r"[^A-Za-z0-9-]")


def make_message_id(domain: str, ticket_number: str | None = None) -> str:
    """A globally unique ``<hl.[TICKET.]RANDOM@domain>``.

    The ticket number is a hint for humans reading headers; the 128-bit random
    part alone makes the id unique, so a resend of one outbox row must reuse the
    stored id rather than call this again.
    """
    domain = (domain or "localhost").strip().strip(".").lower()
    token = secrets.token_hex(16)
    if ticket_number:
        safe = _UNSAFE.sub("", ticket_number)
        if safe:
            return f"<{PREFIX}{safe}.{token}@{domain}>"
    return f"<{PREFIX}{token}@{domain}>"


def _domains(domains: str | Iterable[str]) -> set[str]:
    items = [domains] if isinstance(domains, str) else list(domains)
    # Accept bare domains or whole addresses (Settings.support_addresses).
    return {d.rpartition("@")[2].strip().strip(".").lower() for d in items if d and d.strip()}


def is_own_message_id(mid: str, domains: str | Iterable[str]) -> bool:
    """True when ``mid`` (with or without angle brackets) is one we generated."""
    if not mid:
        return False
    value = mid.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    local, at, domain = value.rpartition("@")
    if not at or not local.lower().startswith(PREFIX) or len(local) <= len(PREFIX):
        return False
    return domain.strip().lower() in _domains(domains)
