"""The triage stage's reads: language and sentiment of messages, repeated contact.

The two columns live on ``message`` itself (``models.Message.language`` and
``sentiment``, migration 8; written by the pipeline's one INSERT of the message,
read by plain SQL), not in a table of their own, so the hot path gains no statement.

- ``message.language``: ISO 639-1 code of the customer's text, NULL when undetermined;
- ``message.sentiment``: VADER compound score (-1..1), NULL when not scored (not English);
- index ``(sender, created_at)``: "how many messages did this customer send in the
  last hour" is a short range scan per address instead of every message of the hour.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence


from helpline.store import batch_cache
from helpline.store import fastsql as sql


def _contact_counts(windows: Sequence[dt.timedelta], now: dt.datetime) -> tuple[str, list[Any]]:
    """One COUNT subquery per window: the customer's inbound messages since ``now - window``.

    Messages are matched by the customer's addresses (every identity, plus the
    address this message came from), so an email and a text from one person
    count together once their identities are linked."""
    parts, params = [], []
    for w in windows:
        parts.append(
            '(SELECT COUNT(*) FROM "message" m WHERE m.sender IN '
            '(SELECT i.address FROM "identity" i WHERE i.customer_id = c.id UNION SELECT ?) '
            "AND m.direction = 'in' AND m.created_at >= ?)"
        )
        params.append(now - w)
    return (", " + ", ".join(parts) if parts else ""), params


def customer_facts(
    customer_id: int, sender: str, windows: Sequence[dt.timedelta], now: dt.datetime
) -> tuple[str, dict[dt.timedelta, int]]:
    """(tier in the customer record, earlier inbound messages per window), in one statement."""
    counts, params = _contact_counts(windows, now)
    q = f'SELECT c.tier{counts} FROM "customer" c WHERE c.id = ?'
    row = sql.fetchone(q, _with_sender(params, sender) + [customer_id])
    if row is None:
        return "standard", {w: 0 for w in windows}
    return row[0] or "standard", {w: int(n) for w, n in zip(windows, row[1:], strict=True)}


def _with_sender(params: list[Any], sender: str) -> list[Any]:
    """The COUNT subqueries take (sender, since) each, in order."""
    out: list[Any] = []
    for since in params:
        out += [sender, since]
    return out


def ticket_facts(
    ticket_id: int, customer_id: int, sender: str, windows: Sequence[dt.timedelta], now: dt.datetime
) -> dict[str, Any] | None:
    """A ticket's priority, category, status and language with the writing customer's tier and
    earlier message counts, in one statement (a customer message appended to a ticket)."""
    counts, params = _contact_counts(windows, now)
    q = (
        f'SELECT t.priority, t.category, t.status, t.language, c.tier{counts} FROM "ticket" t '
        f'JOIN "customer" c ON c.id = ? WHERE t.id = ?'
    )
    row = sql.fetchone(q, _with_sender(params, sender) + [customer_id, ticket_id])
    if row is None:
        return None
    return {
        "priority": row[0],
        "category": row[1] or "",
        "status": row[2],
        "language": row[3] or "",
        "tier": row[4] or "standard",
        "contacts": {w: int(n) for w, n in zip(windows, row[5:], strict=True)},
    }


def previous_sentiment(ticket_id: int, before_message_id: int) -> tuple[int, float] | None:
    """(message id, score) of the ticket's last scored customer message before this one."""
    row = sql.fetchone(
        "SELECT id, sentiment FROM \"message\" WHERE ticket_id = ? AND direction = 'in' "
        "AND sentiment IS NOT NULL AND id < ? ORDER BY id DESC LIMIT 1",
        [ticket_id, before_message_id],
    )
    return (row[0], float(row[1])) if row else None


def last_priority_actor(ticket_id: int) -> str:
    """Who set the ticket's priority last ("system" for the rules, or "" when nobody did)."""
    batch_cache.flush_writes()  # an import batch's buffered events are part of the answer
    row = sql.fetchone(
        "SELECT actor FROM \"event\" WHERE ticket_id = ? AND kind IN ('priority_set', "
        "'priority_changed') ORDER BY id DESC LIMIT 1",
        [ticket_id],
    )
    return row[0] if row else ""


def fill_ticket_language(ticket_id: int, language: str) -> None:
    sql.execute('UPDATE "ticket" SET language = ? WHERE id = ? AND language IS NULL', [language, ticket_id])


def message_signals(ticket_id: int) -> dict[int, tuple[str | None, float | None]]:
    """message id -> (language, sentiment) of a ticket's messages (for `helpline explain`)."""
    rows = sql.fetchall('SELECT id, language, sentiment FROM "message" WHERE ticket_id = ?', [ticket_id])
    return {r[0]: (r[1], None if r[2] is None else float(r[2])) for r in rows}
