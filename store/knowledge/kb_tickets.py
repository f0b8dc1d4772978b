"""Resolved tickets as the suggestion ranker reads them: what the customer asked, what answered it.

The answer is the last agent reply sent before the ticket was resolved (the
one that resolved it); a ticket resolved without any agent reply has nothing
to suggest and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpline.store import fastsql


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
        "SELECT t.id, t.number, COALESCE(t.language, ''), t.team, t.subject, "
        "(SELECT m.text FROM \"message\" m WHERE m.ticket_id = t.id AND m.author_role = 'customer' "
        " ORDER BY m.created_at, m.id LIMIT 1), "
        "(SELECT m.text FROM \"message\" m WHERE m.ticket_id = t.id AND m.direction = 'out' "
        " AND m.author_role = 'agent' ORDER BY m.created_at DESC, m.id DESC LIMIT 1) "
        "FROM \"ticket\" t WHERE t.status IN ('resolved', 'closed') ORDER BY t.id DESC LIMIT ?",
        [limit],
    )
    return [
        ResolvedTicket(r[0], r[1], r[2] or "en", r[3], f"{r[4] or ''}\n{r[5] or ''}".strip(), r[6])
        for r in rows
        if r[6]
    ]


def articles_fingerprint() -> tuple[object, ...]:
    """(count, newest update, highest version) of the active articles: a ranker built on other values is stale."""
    return tuple(
        fastsql.fetchone("SELECT COUNT(*), MAX(updated_at), MAX(version) FROM \"kb_article\" WHERE status = 'active'")
        or ()
    )


def team_of(ticket_id: int) -> str | None:
    row = fastsql.fetchone('SELECT team FROM "ticket" WHERE id = ?', [ticket_id])
    return row[0] if row else None


def question_of(ticket_id: int) -> tuple[str, str | None, str | None]:
    """(subject and the customer's first message, the ticket's language, its team); empty for no ticket."""
    row = fastsql.fetchone(
        'SELECT t.subject, t.language, t.team, (SELECT m.text FROM "message" m WHERE m.ticket_id = t.id '
        "AND m.author_role = 'customer' ORDER BY m.created_at, m.id LIMIT 1) FROM \"ticket\" t WHERE t.id = ?",
        [ticket_id],
    )
    if row is None:
        return "", None, None
    return f"{row[0] or ''}\n{row[3] or ''}".strip(), row[1], row[2]


def has_suggestions(ticket_id: int) -> bool:
    return fastsql.fetchone('SELECT 1 FROM "kb_suggestion" WHERE ticket_id = ? LIMIT 1', [ticket_id]) is not None


def last_agent_answer(number: str) -> str | None:
    """The newest agent reply of ticket ``number`` ("" when it has none); None when there is no such ticket."""
    row = fastsql.fetchone(
        "SELECT (SELECT m.text FROM \"message\" m WHERE m.ticket_id = t.id AND m.direction = 'out' "
        "AND m.author_role = 'agent' ORDER BY m.created_at DESC, m.id DESC LIMIT 1) FROM \"ticket\" t "
        "WHERE t.number = ?",
        [number],
    )
    return (row[0] or "") if row else None
