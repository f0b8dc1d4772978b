"""Deflection in the acknowledgement (opt-in per team, ``HELPLINE_KB_DEFLECT_TEAMS``).

When the best public article for a new ticket's text is confident enough
(``router.kb_suggest.confident``: the threshold calibrated on the retrieval
evaluation), the acknowledgement names it with a signed link that serves the
article (``ingest/kb_pages.py``) and carries the ticket, so only that link's
"This answered my question" button resolves the ticket as self-served. A
customer's reply ("thanks, but…") never does: it is an ordinary message.

This runs inside the pipeline's transaction for opted-in teams only, on the
article ranker this process keeps (articles only, no tickets; rebuilt when the
knowledge base changes, checked at most every ``CHECK_S``), so it costs one
in-memory ranking per new ticket and nothing for teams that did not opt in.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from helpline.router.kb.kb_suggest import Suggester, confident
from helpline.store.knowledge import kb_links
from helpline.store.knowledge import kb_tickets
from helpline.store.config import Settings

from helpline.store.inbound import audit_events

CHECK_S = 30.0
_lock = threading.Lock()
_cache: dict[str, Any] = {}


def wanted(settings: Settings, team: str | None) -> bool:
    teams = settings.kb_deflect_teams
    return bool(teams) and ("*" in teams or (team or "") in teams) and kb_links.can_link(settings)


def _ranker() -> Suggester:
    """Articles only, in the caller's transaction (the pipeline's)."""
    with _lock:
        now = time.monotonic()
        if _cache.get("at", -CHECK_S) + CHECK_S <= now or "s" not in _cache:
            fp = kb_tickets.articles_fingerprint()
            if fp != _cache.get("fp") or "s" not in _cache:
                _cache["s"] = Suggester.load(ticket_limit=0)
                _cache["fp"] = fp
            _cache["at"] = now
        return _cache["s"]


def offer(
    ticket_id: int, text: str, language: str | None, settings: Settings, now: dt.datetime
) -> dict[str, str] | None:
    """The article to name in the acknowledgement ({title, url}), recorded as offered; None for none."""
    if not text.strip() or not wanted(settings, kb_tickets.team_of(ticket_id)):
        return None
    top = confident(_ranker().articles_for(text, language or None, public_only=True))
    if top is None:
        return None
    audit_events.event(
        ticket_id, "deflection_offered", {"slug": top.ref, "language": top.language, "score": top.score}, now=now
    )
    return {"title": top.title, "url": kb_links.article_url(settings, top.ref, top.language, ticket_id)}
