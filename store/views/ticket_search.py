"""Ticket lists for the API: filters, a search in subjects and message texts, and a cursor.

Newest ticket first, by id: an order that never changes under the client's
feet, so following ``next_cursor`` (the id to continue below) neither skips
nor repeats a ticket while other tickets are created or updated meanwhile.
``team`` confines a team-bound key to its team's tickets whatever the filters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee as pw

from helpline.store import models as m
from helpline.store.fulltext import search
from helpline.store.fulltext import search_syntax
from helpline.store.db import is_sqlite
from helpline.store.tickets.tags import tags_by_ticket
from helpline.store.views.queries import TicketNotFound, ticket_detail, ticket_summary


@dataclass(frozen=True)
class TicketFilter:
    status: tuple[str, ...] = ()
    team: str | None = None
    assignee: str | None = None  # "none" for unassigned
    priority: tuple[str, ...] = ()
    category: str | None = None
    channel: str | None = None
    customer: str | None = None  # a customer id, or an address of one of their identities
    updated_since: dt.datetime | None = None
    q: str | None = None


def _matching(text: str) -> pw.Node:
    """``id IN (tickets the full-text search finds for text)``; ``QueryError`` for a query it refuses."""
    sub, params = search.matching_ids_sql(search_syntax.parse(text))
    if not is_sqlite():
        sub = sub.replace("?", "%s")  # the statement is ours; every value is a parameter
    return pw.NodeList((m.Ticket.id, pw.SQL("IN"), pw.SQL(f"({sub})", params)))


def list_page(
    f: TicketFilter, *, limit: int, before: int | None = None, scope_team: str | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of tickets and the cursor of the next (None on the last page)."""
    T = m.Ticket
    q = T.select(T, m.Customer).join(m.Customer).order_by(T.id.desc()).limit(limit + 1)
    conds: list[Any] = []
    if scope_team is not None:
        conds.append(T.team == scope_team)
    if before is not None:
        conds.append(T.id < before)
    if f.status:
        conds.append(T.status.in_(f.status))
    if f.team is not None:
        conds.append(T.team == f.team)
    if f.assignee is not None:
        conds.append(T.assignee.is_null() if f.assignee == "none" else T.assignee == f.assignee.lower())
    if f.priority:
        conds.append(T.priority.in_(f.priority))
    if f.category is not None:
        conds.append(T.category == f.category)
    if f.channel is not None:
        conds.append(T.channel == f.channel)
    if f.customer is not None:
        if f.customer.isascii() and f.customer.isdigit() and len(f.customer) <= 18:
            conds.append(T.customer == int(f.customer))
        else:
            ident = m.Identity.select(m.Identity.customer).where(
                pw.fn.LOWER(m.Identity.address) == f.customer.strip().lower()
            )
            conds.append(T.customer.in_(ident))
    if f.updated_since is not None:
        conds.append(T.updated_at >= f.updated_since)
    if f.q:
        conds.append(_matching(f.q))
    for c in conds:
        q = q.where(c)
    rows = list(q)
    more = len(rows) > limit
    rows = rows[:limit]
    tags = tags_by_ticket([t.id for t in rows])
    return [ticket_summary(t, tags.get(t.id, [])) for t in rows], (rows[-1].id if more and rows else None)


def team_of(number: str) -> tuple[int, str | None] | None:
    """(id, team) of a ticket by number, or None."""
    row = m.Ticket.select(m.Ticket.id, m.Ticket.team).where(m.Ticket.number == number.strip().upper()).tuples().first()
    return (row[0], row[1]) if row else None


def visible(number: str, scope_team: str | None) -> int:
    """The ticket's id if the caller may see it; ``TicketNotFound`` otherwise, the same either way,
    so that a team-bound key cannot learn that another team's ticket exists."""
    got = team_of(number) if "\x00" not in number else None  # PostgreSQL refuses NUL in a string
    if got is None or (scope_team is not None and got[1] != scope_team):
        raise TicketNotFound(f"no ticket {number.strip().upper()!r}")
    return got[0]


def detail(number: str, scope_team: str | None) -> dict[str, Any]:
    visible(number, scope_team)
    return ticket_detail(number)
