"""The rows behind ``helpline report`` and the report metrics: tickets created in a window,
with their first agent reply, reply and reopen counts, SLA outcomes and survey answers.

A handful of grouped queries for the whole window (never one per ticket), then
``router.report_figures.compute`` does the arithmetic. Each ticket's durations
use its team's calendar, as its SLA clocks do.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from helpline.router.report_figures import Targets, TicketRow, compute
from helpline.store import fastsql
from helpline.store.config import Settings
from helpline.store.config_file import site_config
from helpline.store.db import run_tx

from . import sla_clock


_dt = fastsql.as_datetime  # SQLite hands back text, PostgreSQL a datetime


def load_rows(settings: Settings, since: dt.datetime | None = None, until: dt.datetime | None = None,
              team: str | None = None) -> list[TicketRow]:
    # Imported history (``helpline import``) was answered by the old system: not this desk's response times.
    # Spam (workers/spam_stage.py) was never a customer's request: left out until released.
    where: list[str] = ["t.status NOT IN ('merged', 'spam')", "NOT EXISTS (SELECT 1 FROM \"event\" ie WHERE ie.ticket_id = t.id "
                        "AND ie.kind = 'ticket_imported')"]
    params: list[Any] = []
    if since is not None:
        where.append("t.created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("t.created_at < ?")
        params.append(until)
    if team:
        where.append("t.team = ?")
        params.append(team)
    cond = " AND ".join(where)
    tickets = fastsql.fetchall(
        "SELECT t.id, t.channel, t.category, t.priority, t.team, t.assignee, t.status, t.created_at, t.resolved_at "
        f'FROM "ticket" t WHERE {cond} ORDER BY t.id', params)
    scope = f'SELECT t.id FROM "ticket" t WHERE {cond}'
    replies = {r[0]: (r[1], _dt(r[2])) for r in fastsql.fetchall(
        'SELECT m.ticket_id, COUNT(*), MIN(m.created_at) FROM "message" m '
        f"WHERE m.direction = 'out' AND m.author_role = 'agent' AND m.ticket_id IN ({scope}) GROUP BY m.ticket_id",
        params)}
    reopens: dict[int, int] = {}
    for ticket_id, data in fastsql.fetchall(
            f"SELECT e.ticket_id, e.data FROM \"event\" e WHERE e.kind = 'status_changed' AND e.ticket_id IN ({scope})",
            params):
        change = json.loads(data) if isinstance(data, str) else (data or {})
        if change.get("from") == "resolved" and change.get("to") == "open":
            reopens[ticket_id] = reopens.get(ticket_id, 0) + 1
    sla: dict[int, dict[str, str]] = {}
    for ticket_id, target, outcome in fastsql.fetchall(
            f'SELECT s.ticket_id, s.target, s.outcome FROM "ticket_sla" s WHERE s.ticket_id IN ({scope}) '
            "AND s.outcome IN ('met', 'missed')", params):
        sla.setdefault(ticket_id, {})[target] = outcome
    csat = {r[0]: r[1] for r in fastsql.fetchall(
        f'SELECT c.ticket_id, c.score FROM "csat_survey" c WHERE c.ticket_id IN ({scope})', params)}
    cfg = site_config(settings)
    calendars: dict[str | None, Any] = {}
    rows = []
    for tid, channel, category, priority, tteam, assignee, status, created, resolved in tickets:
        if tteam not in calendars:
            name = sla_clock.team_calendar_name(cfg, tteam)
            calendars[tteam] = sla_clock.calendar_of(cfg, name) if name else None
        count, first = replies.get(tid, (0, None))
        rows.append(TicketRow(tid, channel, category or "", priority, tteam or "", assignee or "", status,
                              _dt(created), _dt(resolved), first, count, reopens.get(tid, 0),  # type: ignore[arg-type]
                              calendars[tteam], sla.get(tid, {}), tid in csat, csat.get(tid)))
    return rows


def figures(settings: Settings, since: dt.datetime | None = None, until: dt.datetime | None = None,
            team: str | None = None) -> dict[str, Any]:
    rows = run_tx(lambda: load_rows(settings, since, until, team), durable=False)
    out = compute(rows, Targets(settings.report_target_first_response_s, settings.report_target_fcr,
                                settings.report_target_csat))
    from helpline.router import kb_figures
    from helpline.store import kb_state

    sugg, defl = run_tx(lambda: kb_state.report_rows(since, until), durable=False)
    out["knowledge"] = kb_figures.compute(rows, sugg, defl)
    out["window"] = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
                     "team": team}
    return out
