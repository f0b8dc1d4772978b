"""Incidents as the ticket API shows them: pages of incidents and one with its tickets,
seen through a key's team (``ingest.incident_api``).

An incident groups tickets of many customers and possibly of several teams. A
team-bound key sees an incident when at least one of its tickets is the
team's, and sees only those tickets, exactly as it sees tickets; any other
incident is "not found" for it.
"""

from __future__ import annotations

from typing import Any

from helpline.store import fastsql
from helpline.store.views.queries import _ts
from helpline.store.tickets.similarity_state import incident_number

MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL


def incident_id(ref: str) -> int | None:
    """``INC-000042`` or ``42`` as an id; None for anything else (never a database error)."""
    text = ref.strip().upper().removeprefix("INC-")
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        return None
    return int(text)


def _when(value: Any) -> str | None:
    return _ts(fastsql.as_datetime(value))


def _team_clause(scope_team: str | None) -> tuple[str, list[Any]]:
    if scope_team is None:
        return "", []
    return (
        ' AND EXISTS (SELECT 1 FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id '
        "WHERE it.incident_id = i.id AND t.team = ?)",
        [scope_team],
    )


def list_page(
    *, status: str | None, limit: int, before: int | None, scope_team: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Incidents newest first, with their ticket and customer counts (the team's only, for a team key),
    and the cursor of the next page (None on the last)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if status is not None:
        where.append("i.status = ?")
        params.append(status)
    if before is not None:
        where.append("i.id < ?")
        params.append(before)
    team_sql, team_params = _team_clause(scope_team)
    count_team = " AND t.team = ?" if scope_team is not None else ""
    rows = fastsql.fetchall(
        "SELECT i.id, i.title, i.status, i.created_at, i.updated_at, i.resolved_at, "
        '(SELECT COUNT(*) FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id '
        f"WHERE it.incident_id = i.id{count_team}), "
        '(SELECT COUNT(DISTINCT t.customer_id) FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id '
        f"WHERE it.incident_id = i.id{count_team}) "
        f'FROM "incident" i WHERE {" AND ".join(where)}{team_sql} ORDER BY i.id DESC LIMIT ?',
        [*([scope_team] * 2 if scope_team is not None else []), *params, *team_params, limit + 1],
    )
    items = [_incident(r[:6]) | {"tickets": r[6], "customers": r[7]} for r in rows[:limit]]
    return items, (rows[limit - 1][0] if len(rows) > limit else None)


def _incident(r: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "incident": incident_number(r[0]),
        "title": r[1],
        "status": r[2],
        "created_at": _when(r[3]),
        "updated_at": _when(r[4]),
        "resolved_at": _when(r[5]),
    }


def detail(iid: int, scope_team: str | None) -> dict[str, Any] | None:
    """The incident and its tickets (the team's only, for a team key); None when it is not visible."""
    row = fastsql.fetchone(
        'SELECT id, title, status, created_at, updated_at, resolved_at FROM "incident" WHERE id = ?', [iid]
    )
    if row is None:
        return None
    team_sql, team_params = ("AND t.team = ? ", [scope_team]) if scope_team is not None else ("", [])
    tickets = fastsql.fetchall(
        "SELECT t.number, t.status, t.priority, t.team, t.channel, t.subject, it.similarity, it.added_at "
        f'FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id WHERE it.incident_id = ? {team_sql}'
        "ORDER BY t.id",
        [iid, *team_params],
    )
    if scope_team is not None and not tickets:
        return None
    return _incident(row) | {
        "tickets": [
            {
                "number": t[0],
                "status": t[1],
                "priority": t[2],
                "team": t[3],
                "channel": t[4],
                "subject": t[5],
                "similarity": round(float(t[6]), 2),
                "added_at": _when(t[7]),
            }
            for t in tickets
        ]
    }


def other_teams(iid: int, scope_team: str, active: tuple[str, ...]) -> list[str]:
    """Teams other than ``scope_team`` with an active ticket in the incident: a reply from a team-bound
    key would reach their customers too."""
    marks = fastsql.in_marks(len(active))
    rows = fastsql.fetchall(
        'SELECT DISTINCT t.team FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id '
        f"WHERE it.incident_id = ? AND t.status IN ({marks}) AND (t.team IS NULL OR t.team != ?)",
        [iid, *active, scope_team],
    )
    return sorted(str(r[0] or "none") for r in rows)
