"""The figures of ``helpline report`` and the report metrics: tickets created in a window.

``store.report_rows`` reads the window (a handful of grouped queries, never one
per ticket); here each ticket gets its team's calendar, since its durations
count the way its SLA clocks do, and ``router.report_figures.compute`` does the
arithmetic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from helpline.router.report_figures import Targets, TicketRow, compute
from helpline.store.views import report_rows
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import site_config
from helpline.store.db import run_tx

from helpline.workers.tickets import sla_clock


def load_rows(
    settings: Settings, since: dt.datetime | None = None, until: dt.datetime | None = None, team: str | None = None
) -> list[TicketRow]:
    """The window's tickets as the report counts them (inside the caller's transaction)."""
    got = report_rows.window(since, until, team)
    cfg = site_config(settings)
    calendars: dict[str | None, Any] = {}
    rows = []
    for t in got.tickets:
        if t.team not in calendars:
            name = sla_clock.team_calendar_name(cfg, t.team)
            calendars[t.team] = sla_clock.calendar_of(cfg, name) if name else None
        count, first = got.replies.get(t.id, (0, None))
        rows.append(
            TicketRow(
                t.id,
                t.channel,
                t.category or "",
                t.priority,
                t.team or "",
                t.assignee or "",
                t.status,
                t.created_at,
                t.resolved_at,
                first,
                count,
                got.reopens.get(t.id, 0),
                calendars[t.team],
                got.sla.get(t.id, {}),
                t.id in got.csat,
                got.csat.get(t.id),
            )
        )
    return rows


def figures(
    settings: Settings, since: dt.datetime | None = None, until: dt.datetime | None = None, team: str | None = None
) -> dict[str, Any]:
    rows = run_tx(lambda: load_rows(settings, since, until, team), durable=False)
    out = compute(
        rows, Targets(settings.report_target_first_response_s, settings.report_target_fcr, settings.report_target_csat)
    )
    from helpline.router.kb import kb_figures
    from helpline.store.knowledge import kb_state

    sugg, defl = run_tx(lambda: kb_state.report_rows(since, until), durable=False)
    out["knowledge"] = kb_figures.compute(rows, sugg, defl)
    out["window"] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "team": team,
    }
    return out
