"""Resolved tickets as the suggestion ranker reads them: what the customer asked, what answered it.

The answer is the last agent reply sent before the ticket was resolved (the
one that resolved it); a ticket resolved without any agent reply has nothing
to suggest and is left out.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import fastsql


@dataclass(frozen=True)
class ResolvedTicket:
    ticket_id: int
    number: str
    language: str
    team: str | None
    question: str  # subject and the customer's first message
    reply: str


def resolved_with_replies(limit: int = 5000) -> list[ResolvedTicket]:
    """The newest ``limit`` resolved or closed tickets that an agent answered."""
    rows = fastsql.fetchall(
        'SELECT t.id, t.number, COALESCE(t.language, \'\'), t.team, t.subject, '
        '(SELECT m.text FROM "message" m WHERE m.ticket_id = t.id AND m.author_role = \'customer\' '
        ' ORDER BY m.created_at, m.id LIMIT 1), '
        '(SELECT m.text FROM "message" m WHERE m.ticket_id = t.id AND m.direction = \'out\' '
        ' AND m.author_role = \'agent\' ORDER BY m.created_at DESC, m.id DESC LIMIT 1) '
        'FROM "ticket" t WHERE t.status IN (\'resolved\', \'closed\') ORDER BY t.id DESC LIMIT ?', [limit])
    return [ResolvedTicket(r[0], r[1], r[2] or "en", r[3], f"{r[4] or ''}\n{r[5] or ''}".strip(), r[6])
            for r in rows if r[6]]
