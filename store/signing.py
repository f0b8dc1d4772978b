"""HMAC signatures with rotating keys (``HELPLINE_SECRET_KEY``, newest first).

Signing always uses the newest key; verification accepts any listed key, so an
operator can add a new key in front, wait for old tokens to age out, then drop
the old one.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Sequence


def _mac(key: str, purpose: str, value: str) -> str:
    digest = hmac.new(key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def sign(keys: Sequence[str], purpose: str, value: str) -> str:
    if not keys:
        raise ValueError("no HELPLINE_SECRET_KEY configured; set it or run `helpline run` once to generate one")
    return _mac(keys[0], purpose, value)


def verify(keys: Sequence[str], purpose: str, value: str, signature: str) -> bool:
    return any(hmac.compare_digest(_mac(k, purpose, value), signature.lower()) for k in keys)


def reply_token(keys: Sequence[str], ticket_id: int) -> str:
    """A token for ``support+TOKEN@domain``: short, case-insensitive, unguessable."""
    return f"t{ticket_id}.{sign(keys, 'reply', str(ticket_id))}"


def ticket_from_reply_token(keys: Sequence[str], token: str) -> int | None:
    """The ticket id a token names, or None when it is malformed or forged."""
    head, _, sig = token.lower().partition(".")
    if not head.startswith("t") or not head[1:].isdigit() or not sig:
        return None
    return int(head[1:]) if verify(keys, "reply", head[1:], sig) else None
