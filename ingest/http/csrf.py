"""CSRF tokens for the contact form: signed, expiring, bound to a cookie.

The form carries ``TIMESTAMP.NONCE.MAC`` (MAC: HMAC with ``HELPLINE_SECRET_KEY``
over the timestamp and nonce, so any of several ingest daemons can check it and
keys rotate like reply tokens); the browser also holds the nonce in a
``SameSite=Strict`` cookie. A post from another site's page has neither a
token we signed nor the cookie, and a token scraped from our page is useless
without the cookie that came with it. Tokens expire, so a page left open for a
day asks to be sent again instead of failing silently.
"""

from __future__ import annotations

import secrets
from typing import Sequence

from helpline.store import signing

COOKIE = "helpline_contact"
TTL_S = 2 * 3600
PURPOSE = "contact-csrf"


def issue(keys: Sequence[str], now: float) -> tuple[str, str]:
    """(token for the form, nonce for the cookie)."""
    nonce = secrets.token_urlsafe(16)
    stamp = str(int(now))
    return f"{stamp}.{nonce}.{signing.sign(keys, PURPOSE, f'{stamp}.{nonce}')}", nonce


def problem(keys: Sequence[str], token: str, cookie_nonce: str, now: float, ttl_s: int = TTL_S) -> str:
    """Why the token is not acceptable, or "" when it is."""
    if not token:
        return "missing"
    stamp, _, rest = token.partition(".")
    nonce, _, mac = rest.partition(".")
    if not stamp.isdigit() or not nonce or not mac or not signing.verify(keys, PURPOSE, f"{stamp}.{nonce}", mac):
        return "forged"
    if not secrets.compare_digest(nonce.encode(), (cookie_nonce or "").encode()):
        return "cookie"
    age = now - int(stamp)
    if age > ttl_s or age < -300:
        return "expired"
    return ""


def nonce_of(token: str) -> str:
    return token.partition(".")[2].partition(".")[0]
