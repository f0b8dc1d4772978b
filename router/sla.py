"""SLA policy and deadlines: plain functions, the clock passed in.

A ticket has up to three clocks (targets): ``first_response`` (the first public
reply by a person; automatic acknowledgements do not count), ``resolution``,
and ``next_response`` (a fresh target when a resolved ticket is reopened, so it
does not escalate at once). Each clock has a budget of counted seconds in a
business-hours calendar and remembers what it used before its last pause
(waiting on the customer). While running, its warning and due instants are
planned from the moment it (re)started:

    due  = add_business_time(clock_from, budget - consumed)
    warn = add_business_time(clock_from, max(0, budget * warn_at - consumed))

Re-planning (priority, team or policy changed) keeps what was consumed and
computes new instants; a warning or breach already fired stays fired if its
new instant has passed too, and fires again later if it moved into the future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from helpline.store.siteconfig.config_file import DEFAULT_SLA, Calendar, SiteConfig, SlaPolicy

from helpline.router.business_hours import add_business_time, business_time_between

FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
RESPONSE_TARGETS = (FIRST_RESPONSE, NEXT_RESPONSE)


@dataclass(frozen=True)
class Targets:
    policy: str  # a configured policy's name, or "default:<priority>"
    calendar: Calendar
    first_response: dt.timedelta
    resolution: dt.timedelta
    warn_at: float
    reason: str

    def budget(self, target: str) -> dt.timedelta:
        return self.resolution if target == RESOLUTION else self.first_response


def _specificity(p: SlaPolicy) -> int:
    return (4 if p.customer_tier else 0) + (2 if p.team else 0) + (1 if p.priority else 0)


def _applies(p: SlaPolicy, priority: str, team: str, tier: str) -> bool:
    return (
        (not p.priority or priority in p.priority)
        and (not p.team or team in p.team)
        and (not p.customer_tier or tier.lower() in p.customer_tier)
    )


def choose(
    cfg: SiteConfig,
    *,
    priority: str,
    team: str | None,
    customer_tier: str = "",
    pinned: str = "",
    team_calendar: str = "",
) -> Targets:
    """The targets of a ticket: a pinned policy, else the most specific matching one, else the built-in default.

    ``team_calendar`` is the team's business-hours calendar (a policy without
    its own ``business_hours`` counts in it)."""
    team = team or ""
    policy = cfg.policy(pinned) if pinned else None
    if policy is not None:
        reason = f"policy {policy.name!r} set by a routing rule"
    else:
        matching = [p for p in cfg.policies if _applies(p, priority, team, customer_tier)]
        if matching:
            best = max(_specificity(p) for p in matching)
            policy = next(p for p in matching if _specificity(p) == best)  # the first of the most specific
            reason = (
                f"policy {policy.name!r} matches priority {priority}"
                + (f", team {team}" if policy.team else "")
                + (f", customer tier {customer_tier}" if policy.customer_tier else "")
            )
    if policy is not None:
        cal = cfg.calendar(policy.business_hours or team_calendar)
        return Targets(policy.name, cal, policy.first_response, policy.resolution, policy.warn_at, reason)
    first, resolution = DEFAULT_SLA.get(priority, DEFAULT_SLA["medium"])
    return Targets(
        f"default:{priority}",
        cfg.calendar(team_calendar),
        first,
        resolution,
        cfg.warn_at,
        f"built-in targets for priority {priority}",
    )


@dataclass(frozen=True)
class Plan:
    warn_at: dt.datetime
    due_at: dt.datetime


def plan(clock_from: dt.datetime, budget_s: float, consumed_s: float, warn_fraction: float, calendar: Calendar) -> Plan:
    """Warning and due instants of a running clock."""
    remaining = max(0.0, budget_s - consumed_s)
    warn_left = max(0.0, budget_s * warn_fraction - consumed_s)
    return Plan(
        add_business_time(clock_from, dt.timedelta(seconds=warn_left), calendar),
        add_business_time(clock_from, dt.timedelta(seconds=remaining), calendar),
    )


def consumed(clock_from: dt.datetime, now: dt.datetime, consumed_s: float, calendar: Calendar) -> float:
    """Counted seconds used so far by a clock running since ``clock_from``."""
    if now <= clock_from:
        return consumed_s
    return consumed_s + business_time_between(clock_from, now, calendar).total_seconds()


def still_fired(fired_at: dt.datetime | None, new_instant: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """After a re-plan: keep a firing whose instant is still in the past, forget one that moved ahead."""
    if fired_at is None:
        return None
    return fired_at if new_instant <= now else None


def outcome(consumed_s: float, budget_s: float, breached: bool) -> str:
    """``met`` or ``missed`` for a clock stopped by the event it waited for (a second of grace for rounding)."""
    return "missed" if breached or consumed_s > budget_s + 1.0 else "met"
