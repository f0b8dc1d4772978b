"""Signed links to knowledge-base articles and to "This answered my question".

An article link (``/kb/{language}/{slug}?sig=…``) lets anyone holding it read
that article, public or not, without an account: it names one article and
cannot be turned into another. A deflection link adds the ticket
(``&t={ticket}.{mac}``); only that signed pair lets the customer mark the
ticket as answered by the article. The MACs are HMAC with
``HELPLINE_SECRET_KEY`` (rotatable, ``signing``); 128 bits, as for links.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from helpline.store import signing
from helpline.store.config import Settings

MAC_BYTES = 16


def can_link(settings: Settings) -> bool:
    return bool(settings.public_url and settings.secret_key)


def article_sig(keys: Sequence[str], slug: str, language: str) -> str:
    return signing.sign(keys, "kb-article", f"{language}/{slug}", MAC_BYTES)


def ticket_sig(keys: Sequence[str], ticket_id: int, slug: str, language: str) -> str:
    return f"{ticket_id}.{signing.sign(keys, 'kb-answered', f'{ticket_id}:{language}/{slug}', MAC_BYTES)}"


def check_article(keys: Sequence[str], slug: str, language: str, sig: str) -> bool:
    return bool(keys) and len(sig) < 64 and signing.verify(keys, "kb-article", f"{language}/{slug}", sig, MAC_BYTES)


def check_ticket(keys: Sequence[str], token: str, slug: str, language: str) -> int | None:
    """The ticket id a deflection token names for this article, or None when it is malformed or forged."""
    head, _, mac = (token or "").partition(".")
    if not head.isdigit() or len(head) > 18 or not mac or len(mac) > 64 or not keys:
        return None
    ok = signing.verify(keys, "kb-answered", f"{int(head)}:{language}/{slug}", mac, MAC_BYTES)
    return int(head) if ok else None


def article_url(settings: Settings, slug: str, language: str, ticket_id: int | None = None) -> str:
    """The article's public link ("" when no HELPLINE_PUBLIC_URL or secret key is set)."""
    if not can_link(settings):
        return ""
    base = f"{settings.public_url.rstrip('/')}/kb/{quote(language, safe='')}/{quote(slug, safe='')}"
    url = f"{base}?sig={article_sig(settings.secret_key, slug, language)}"
    if ticket_id is not None:
        url += f"&t={ticket_sig(settings.secret_key, ticket_id, slug, language)}"
    return url
