"""The agents' category verdicts, as training data: what ``helpline model train --from-tickets`` learns from.

A verdict is a ``category_confirmed`` or ``category_corrected`` event on a ticket (``router.category``
names them); the example is the ticket's subject and its first customer message.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence, cast

from helpline.store import models as m


def verdicts(kinds: Sequence[str]) -> list[tuple[int, Any, str | None]]:
    """(ticket id, event data, the ticket's category now) of every event of ``kinds``, oldest first, so
    that a ticket's latest verdict comes last."""
    events = (
        m.Event.select(m.Event.ticket, m.Event.data, m.Ticket.category)
        .join(m.Ticket)
        .where(m.Event.kind.in_(list(kinds)))
        .order_by(m.Event.created_at, m.Event.id)
        .tuples()
    )
    return list(cast(Iterable[tuple[int, Any, Any]], events))


def texts(ticket_ids: Sequence[int], chunk: int = 500) -> dict[int, tuple[str, str]]:
    """ticket id -> (subject, first customer message's text), "" for what is missing; read ``chunk`` ids at
    a time."""
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ticket_ids), chunk):
        ids = list(ticket_ids[start : start + chunk])
        subject_of: dict[int, str] = dict(
            cast(
                Iterable[tuple[int, str]],
                m.Ticket.select(m.Ticket.id, m.Ticket.subject).where(m.Ticket.id.in_(ids)).tuples(),
            )
        )
        first_text: dict[int, str] = {}
        rows = (
            m.Message.select(m.Message.ticket, m.Message.text)
            .where(m.Message.ticket.in_(ids), m.Message.direction == "in", m.Message.author_role == "customer")
            .order_by(m.Message.created_at, m.Message.id)
            .tuples()
        )
        for tid, text in cast(Iterable[tuple[int, str]], rows):
            first_text.setdefault(tid, text or "")
        for tid in ids:
            out[tid] = (subject_of.get(tid, ""), first_text.get(tid, ""))
    return out
