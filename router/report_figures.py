"""The report's figures as plain functions of ticket rows (``helpline report``, /metrics).

Durations are business time in each ticket's team calendar (``router.business_hours``),
the same clock the SLA uses: a ticket opened on Friday evening and answered on
Monday morning was answered within minutes of opening hours. Percentiles are
nearest-rank (p90 of ten values is the ninth smallest), medians the middle
value or the mean of the two middle values, so a report can be checked by hand.

Definitions (issue 7):
- first response: the first public reply by a person (an outbound message by
  an agent); acknowledgements, notices and surveys are ``system`` messages and
  do not count;
- resolution time: creation to the (last) resolution;
- first-contact resolution: of the resolved tickets, those resolved with exactly
  one agent reply and never reopened;
- reopen rate: of the tickets ever resolved, those reopened at least once;
- SLA attainment: per target, met / (met + missed) of the clocks that ended;
- CSAT: average score of the answered surveys; response rate answered / sent.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from helpline.store.siteconfig.config_file import Calendar

from helpline.router.business_hours import business_time_between


@dataclass(frozen=True)
class TicketRow:
    id: int
    channel: str
    category: str
    priority: str
    team: str
    assignee: str
    status: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    first_agent_reply_at: dt.datetime | None
    agent_replies: int
    reopens: int
    calendar: Calendar | None  # None: counted around the clock
    sla: dict[str, str] = field(default_factory=dict)  # target -> met | missed
    csat_sent: bool = False
    csat_score: int | None = None


@dataclass(frozen=True)
class Targets:
    first_response_median_s: float = 120.0
    fcr: float = 0.70
    csat: float = 4.5


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def _between(a: dt.datetime, b: dt.datetime, calendar: Calendar | None) -> float:
    if calendar is None:
        return max((b - a).total_seconds(), 0.0)
    return business_time_between(a, b, calendar).total_seconds()


def _ratio(n: int, d: int) -> float | None:
    return n / d if d else None


def _vs(value: float | None, target: float, higher_is_better: bool) -> dict[str, Any]:
    met = None if value is None else (value >= target if higher_is_better else value < target)
    return {"value": value, "target": target, "met": met}


def compute(rows: Iterable[TicketRow], targets: Targets = Targets()) -> dict[str, Any]:
    rows = list(rows)
    first = [_between(r.created_at, r.first_agent_reply_at, r.calendar) for r in rows if r.first_agent_reply_at]
    resolved = [r for r in rows if r.resolved_at is not None and r.status in ("resolved", "closed")]
    resolution = [_between(r.created_at, r.resolved_at, r.calendar) for r in resolved]  # type: ignore[arg-type]
    ever_resolved = [r for r in rows if r.resolved_at is not None or r.reopens]
    fcr = _ratio(sum(1 for r in resolved if r.agent_replies == 1 and r.reopens == 0), len(resolved))
    sla: dict[str, Any] = {}
    for target in sorted({t for r in rows for t in r.sla}):
        met = sum(1 for r in rows if r.sla.get(target) == "met")
        missed = sum(1 for r in rows if r.sla.get(target) == "missed")
        sla[target] = {"met": met, "missed": missed, "attainment": _ratio(met, met + missed)}
    scores = [r.csat_score for r in rows if r.csat_score is not None]
    sent = sum(1 for r in rows if r.csat_sent)
    csat_avg = statistics.fmean(scores) if scores else None
    agents: dict[str, dict[str, int]] = {}
    for r in rows:
        if not r.assignee:
            continue
        a = agents.setdefault(r.assignee, {"assigned": 0, "open": 0, "resolved": 0, "replies": 0})
        a["assigned"] += 1
        a["open"] += r.status in ("new", "open", "in_progress", "waiting_customer")
        a["resolved"] += r.status in ("resolved", "closed")
        a["replies"] += r.agent_replies
    median_first = median(first)
    return {
        "tickets": len(rows),
        "volume": {
            "channel": dict(sorted(Counter(r.channel for r in rows).items())),
            "category": dict(sorted(Counter(r.category or "unclassified" for r in rows).items())),
            "priority": dict(sorted(Counter(r.priority for r in rows).items())),
        },
        "first_response_s": {"count": len(first), "median": median_first, "p90": p90(first)},
        "resolution_s": {"count": len(resolution), "median": median(resolution), "p90": p90(resolution)},
        "sla": sla,
        "fcr": fcr,
        "reopen_rate": _ratio(sum(1 for r in ever_resolved if r.reopens), len(ever_resolved)),
        "csat": {
            "average": csat_avg,
            "answered": len(scores),
            "sent": sent,
            "response_rate": _ratio(len(scores), sent),
        },
        "agents": dict(sorted(agents.items())),
        "targets": {
            "first_response_median_s": _vs(median_first, targets.first_response_median_s, higher_is_better=False),
            "fcr": _vs(fcr, targets.fcr, higher_is_better=True),
            "csat": _vs(csat_avg, targets.csat, higher_is_better=True),
        },
    }
