"""Suggested answers for a new ticket, off the pipeline's hot path.

The pipeline commits the ticket and only then enqueues ``actors.suggest_answers``
(a low-priority actor on the outbox queue), so ranking never slows intake or
counts against the bench. The actor ranks the knowledge base and the resolved
tickets for the ticket's text, stores the top ones (``kb_suggestion`` rows,
which the API and reports read), and posts each in the ticket's Slack thread as
its own message with its buttons (``notifier.slack_sender._op_kb_suggestion``):
one message per suggestion, so a click names its suggestion by the message it
sits on and sending the same suggestion twice sends one reply.

The ranker is kept per worker process and rebuilt when the knowledge base
changed (a cheap fingerprint query) or after ``RELOAD_S`` for newly resolved
tickets.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from helpline.notifier import outbox
from helpline.router.kb.kb_suggest import Suggester, Suggestion
from helpline.store.knowledge import kb_state
from helpline.store.knowledge import kb_tickets
from helpline.store.config import Settings
from helpline.store.db import run_tx
from helpline.store.clock import utcnow

log = logging.getLogger("helpline.workers")
RELOAD_S = 300.0
_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _fingerprint() -> tuple:
    return kb_tickets.articles_fingerprint()


def suggester() -> Suggester:
    """This process's ranker, rebuilt when the articles changed or it is older than ``RELOAD_S``."""
    with _lock:
        fp = run_tx(_fingerprint, durable=False)
        s = _cache.get("suggester")
        if s is None or _cache.get("fp") != fp or time.monotonic() - s.loaded_at > RELOAD_S:
            s = run_tx(Suggester.load, durable=False)
            _cache.update(suggester=s, fp=fp)
        return s


def ticket_text(ticket_id: int) -> tuple[str, str | None, str | None]:
    """(subject and the customer's first message, the ticket's language, its team)."""
    return kb_tickets.question_of(ticket_id)


def rank(ticket_id: int) -> list[Suggestion]:
    """Articles of no team or the ticket's, resolved tickets of the ticket's team only (or of no team)."""
    text, language, team = run_tx(lambda: ticket_text(ticket_id), durable=False)
    if not text:
        return []
    s = suggester()
    return s.articles_for(text, language, team=team or "") + s.tickets_for(
        text, language, exclude=ticket_id, team=team or ""
    )


def store(ticket_id: int, found: list[Suggestion], settings: Settings, *, post: bool = True) -> list[int]:
    """Keep the suggestions (caller's transaction) and queue their Slack messages; the outbox ids."""
    items = [
        {
            "kind": s.kind,
            "ref": s.ref,
            "language": s.language if s.kind == "article" else "",
            "rank": i,
            "score": s.score,
            "why": s.why,
        }
        for i, s in enumerate(found)
    ]
    ids = kb_state.replace_suggestions(ticket_id, items, utcnow())
    if not post or not (settings.slack_bot_token and settings.slack_channel):
        return []
    out = []
    for sid in ids:
        row = outbox.enqueue(
            channel="slack",
            kind="slack_kb_suggestion",
            recipient="",
            ticket=ticket_id,
            payload={"op": "kb_suggestion", "ticket_id": ticket_id, "suggestion_id": sid},
            unique_key=f"slack:kb:{sid}",
        )
        if row is not None:
            out.append(row.id)
    return out


def suggest_for_ticket(ticket_id: int, settings: Settings) -> list[int]:
    """The actor's work: rank, store, queue the Slack messages (once per ticket). The outbox ids to send."""
    already = run_tx(lambda: kb_tickets.has_suggestions(ticket_id), durable=False)
    if already:  # a redelivered message: the first run stored and posted them
        return []
    found = rank(ticket_id)
    if not found:
        return []
    ids = run_tx(lambda: store(ticket_id, found, settings))
    log.info(
        "event=kb_suggested ticket=%d articles=%d tickets=%d",
        ticket_id,
        sum(s.kind == "article" for s in found),
        sum(s.kind == "ticket" for s in found),
    )
    return ids


def answer_text(suggestion_id: int) -> tuple[int, str, str] | None:
    """(ticket id, kind, the text an agent would send) of a suggestion; None when it is gone."""
    s = kb_state.get_suggestion(suggestion_id)
    if s is None:
        return None
    if s.kind == "article":
        a = kb_state.get_article(s.ref, s.language or None)
        return (s.ticket_id, s.kind, article_answer(a.body)) if a is not None else None
    answer = kb_tickets.last_agent_answer(s.ref)
    return (s.ticket_id, s.kind, answer) if answer is not None else None


def article_answer(markdown: str) -> str:
    """An article's Markdown as the text of a reply: images left out (a customer's mail would show a path)."""
    import re

    return re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown).strip()
