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


def _mac(key: str, purpose: str, value: str, size: int = 10) -> str:
    digest = hmac.new(key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:size]).decode().lower().rstrip("=")


def sign(keys: Sequence[str], purpose: str, value: str, size: int = 10) -> str:
    """``size`` bytes of HMAC: 10 (80 bits) where a person may type the token, more for links."""
    if not keys:
        raise ValueError("no HELPLINE_SECRET_KEY configured; set it or run `helpline run` once to generate one")
    return _mac(keys[0], purpose, value, size)


def verify(keys: Sequence[str], purpose: str, value: str, signature: str, size: int = 10) -> bool:
    return any(hmac.compare_digest(_mac(k, purpose, value, size), signature.lower()) for k in keys)


def reply_token(keys: Sequence[str], ticket_id: int) -> str:
    """A token for ``support+TOKEN@domain``: short, case-insensitive, unguessable."""
    return f"t{ticket_id}.{sign(keys, 'reply', str(ticket_id))}"


def ticket_from_reply_token(keys: Sequence[str], token: str) -> int | None:
    """The ticket id a token names, or None when it is malformed or forged."""
    head, _, sig = token.lower().partition(".")
    if not head.startswith("t") or not head[1:].isdigit() or not sig:
        return None
    return int(head[1:]) if verify(keys, "reply", head[1:], sig) else None


DOWNLOAD_MAC_BYTES = 20  # 160 bits: a download link is only as private as its token


def download_token(keys: Sequence[str], attachment_id: int, expires: int) -> str:
    """``{attachment id}.{expiry, Unix seconds}.{mac}``: names one attachment until ``expires``.

    The expiry is inside the signed value, so it cannot be pushed back; the
    newest key signs and every listed key verifies, as for the other tokens."""
    value = f"{attachment_id}.{expires}"
    return f"{value}.{sign(keys, 'download', value, DOWNLOAD_MAC_BYTES)}"


def read_download_token(keys: Sequence[str], token: str) -> tuple[int, int] | None:
    """(attachment id, expiry) of a genuine token, expired or not; None when malformed or forged."""
    parts = token.lower().split(".")
    if (
        len(parts) != 3
        or not parts[0].isdigit()
        or not parts[1].isdigit()
        or not keys
        or len(parts[0]) > 18
        or len(parts[1]) > 12
    ):
        return None
    value = f"{parts[0]}.{parts[1]}"
    if not verify(keys, "download", value, parts[2], DOWNLOAD_MAC_BYTES):
        return None
    return int(parts[0]), int(parts[1])
