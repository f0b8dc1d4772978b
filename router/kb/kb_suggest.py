"""Suggested answers for a customer's text: the top knowledge-base articles and similar resolved tickets.

Reads the store once (active articles, the newest resolved tickets with the
reply that resolved them), builds two BM25 rankers in memory, then answers any
number of texts without I/O: ``helpline kb suggest --stdin`` pays the load once
for a thousand lines, the worker keeps one per process and reloads it when the
knowledge base changes (``Suggester.stale``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from helpline.store.knowledge import kb_state
from helpline.store.knowledge import kb_tickets

from helpline.router.kb import kb_embed, kb_rank

TOP = 3
EXCERPT = 300
# When the top article is "confident enough" to offer the customer (deflection in the
# acknowledgement): scale-free measures, since BM25 scores grow with the corpus. Calibrated on
# the Bitext evaluation (`python -m tests.kb.eval_retrieval --calibrate`): see README.
DEFLECT_MIN_COVERAGE = 0.7
DEFLECT_MIN_MARGIN = 1.5


TICKET_PARAMS = kb_rank.Params(w_chars=0.0)


@dataclass(frozen=True)
class Suggestion:
    kind: str  # article, ticket
    ref: str  # slug, or ticket number
    score: float
    why: str
    title: str = ""
    language: str = "en"
    audience: str = "public"
    reply: str = ""
    coverage: float = 0.0
    margin: float = 0.0


class Suggester:
    def __init__(
        self,
        articles: list[kb_rank.Doc],
        meta: dict[str, dict[str, Any]],
        tickets: list[kb_tickets.ResolvedTicket],
        *,
        embeddings: bool | None = None,
    ) -> None:
        """``embeddings``: fuse sentence embeddings into the article ranking (None: when the extra is installed;
        False: BM25 alone). Resolved tickets stay BM25 alone: embedding thousands of them at every reload
        would cost seconds of CPU for the three least-used suggestions."""
        self.bm25 = kb_rank.Ranker(articles)
        self._embeddings = embeddings
        self._articles: kb_rank.Ranker | kb_embed.FusedRanker | None = None
        self.meta = meta
        self.tickets = {str(t.ticket_id): t for t in tickets}
        # A ticket's text as the body: the "why" then names matched words, never another customer's text;
        # no character n-grams (long texts, thousands of tickets: the index would not pay for itself).
        self.ticket_ranker = kb_rank.Ranker(
            (kb_rank.Doc(key=str(t.ticket_id), body=t.question, language=t.language or "en") for t in tickets),
            TICKET_PARAMS,
        )
        self.loaded_at = time.monotonic()

    @property
    def articles(self) -> "kb_rank.Ranker | kb_embed.FusedRanker":
        """The article ranker, built on first use (outside the caller's read transaction: embedding the
        articles that are new since the last build takes a few ms each; the others come from the cache)."""
        if self._articles is None:
            self._articles = kb_embed.maybe_fused(self.bm25, use=self._embeddings)
        return self._articles

    @classmethod
    def load(cls, *, ticket_limit: int = 5000, embeddings: bool | None = None) -> "Suggester":
        """From the store (the caller's connection)."""
        docs, meta = [], {}
        for slug, language, title, questions, body, tags, audience, team in kb_state.ranker_rows():
            key = f"{language}/{slug}"
            docs.append(
                kb_rank.Doc(
                    key=key, title=title, questions=tuple(questions), body=body, tags=tuple(tags), language=language
                )
            )
            meta[key] = {"slug": slug, "title": title, "language": language, "audience": audience, "team": team}
        tickets = kb_tickets.resolved_with_replies(ticket_limit) if ticket_limit else []
        return cls(docs, meta, tickets, embeddings=embeddings)

    def articles_for(
        self,
        text: str,
        language: str | None = None,
        *,
        k: int = TOP,
        public_only: bool = False,
        team: str | None = None,
    ) -> list[Suggestion]:
        """``team``: only articles of no team or of that team (another team's articles stay theirs)."""
        allow = None
        if public_only or team is not None:
            allow = {
                key
                for key, m in self.meta.items()
                if (m["audience"] == "public" or not public_only) and (team is None or m["team"] in (None, "", team))
            }
        hits = self.articles.rank(text, k, language=language, allow=allow)
        if not hits and language:  # no article in the customer's language: any language beats none
            hits = self.articles.rank(text, k, allow=allow)
        return [
            Suggestion(
                "article",
                self.meta[h.key]["slug"],
                h.score,
                h.why,
                self.meta[h.key]["title"],
                self.meta[h.key]["language"],
                self.meta[h.key]["audience"],
                coverage=h.coverage,
                margin=h.margin,
            )
            for h in hits
        ]

    def tickets_for(
        self,
        text: str,
        language: str | None = None,
        *,
        k: int = TOP,
        exclude: int | None = None,
        team: str | None = None,
    ) -> list[Suggestion]:
        """``team``: only that team's resolved tickets (their replies hold their customers' details)."""
        allow = None if team is None else {key for key, t in self.tickets.items() if (t.team or "") == team}
        hits = self.ticket_ranker.rank(text, k + 1, allow=allow)
        out = []
        for h in hits:
            t = self.tickets[h.key]
            if t.ticket_id == exclude:
                continue
            out.append(Suggestion("ticket", t.number, h.score, h.why, reply=t.reply))
        return out[:k]

    def suggest(
        self, text: str, language: str | None = None, *, team: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The answer of ``helpline kb suggest --json`` and of the API (``team``: a team-bound caller's view)."""
        return {
            "articles": [
                {"slug": s.ref, "title": s.title, "score": s.score, "why": s.why}
                for s in self.articles_for(text, language, team=team)
            ],
            "tickets": [
                {"number": s.ref, "score": s.score, "reply_excerpt": excerpt(s.reply)}
                for s in self.tickets_for(text, language, team=team)
            ],
        }


def excerpt(text: str, limit: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def confident(articles: list[Suggestion]) -> Suggestion | None:
    """The top public article when it is confident enough to offer a customer, else None."""
    top = articles[0] if articles else None
    if top is None or top.audience != "public":
        return None
    return top if top.coverage >= DEFLECT_MIN_COVERAGE and top.margin >= DEFLECT_MIN_MARGIN else None
