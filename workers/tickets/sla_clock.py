"""A ticket's SLA clocks in the database, inside the caller's transaction.

The arithmetic is ``router.sla`` and ``router.business_hours``; this module
loads the ticket's clocks, calls them and writes the result, with one audit
event per change. The scheduler (``workers.ticket_timers``) fires warnings and
breaches from the stored instants, so no multi-day delayed queue message is
ever needed, and a change of priority, team, status or policy simply writes
new instants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from helpline.router import sla
from helpline.store import import_mode
from helpline.store.tickets import routing_state
from helpline.store.siteconfig.config_file import Calendar, SiteConfig

from helpline.store.inbound import audit_events


@dataclass
class TicketFacts:
    """What the clocks need to know about a ticket (filled by ``ticket_ops.load``)."""

    id: int
    priority: str
    team: str | None
    customer_tier: str


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() + "Z" if t else None


def team_calendar_name(cfg: SiteConfig, team: str | None) -> str:
    info = routing_state.team_info(team)
    if info is not None:
        return info.business_hours
    t = cfg.team(team)
    return t.business_hours if t else ""


def targets_for(
    t: TicketFacts, cfg: SiteConfig, *, pinned: str | None = None, team_calendar: str | None = None
) -> sla.Targets:
    """The ticket's targets; ``pinned`` and ``team_calendar`` are read from the database unless given."""
    if pinned is None:
        pinned = routing_state.routing_of(t.id).sla_policy
    if team_calendar is None:
        team_calendar = team_calendar_name(cfg, t.team)
    return sla.choose(
        cfg, priority=t.priority, team=t.team, customer_tier=t.customer_tier, pinned=pinned, team_calendar=team_calendar
    )


def calendar_of(cfg: SiteConfig, name: str) -> Calendar:
    """The stored calendar name's calendar; one removed from the file since counts all the time."""
    return cfg.calendar(name)


def start(
    t: TicketFacts,
    now: dt.datetime,
    cfg: SiteConfig,
    targets: Iterable[str] = (sla.FIRST_RESPONSE, sla.RESOLUTION),
    *,
    reason: str = "new ticket",
    pinned: str | None = None,
    team_calendar: str | None = None,
    fresh: bool = False,
) -> None:
    """Start fresh clocks (a new ticket; a reopened one gets next_response and resolution).

    ``fresh``: the ticket has no clocks yet (made in this transaction), so the
    rows are inserted in one statement instead of replaced one by one."""
    if import_mode.active():  # imported history: its deadlines passed long ago, nobody is to be chased
        return
    tg = targets_for(t, cfg, pinned=pinned, team_calendar=team_calendar)
    due: dict[str, str | None] = {}
    rows = []
    for target in targets:
        budget = tg.budget(target).total_seconds()
        p = sla.plan(now, budget, 0.0, tg.warn_at, tg.calendar)
        rows.append(
            dict(
                target=target,
                policy=tg.policy,
                calendar=tg.calendar.name,
                budget_s=budget,
                warn_fraction=tg.warn_at,
                consumed_s=0.0,
                clock_from=now,
                warn_at=p.warn_at,
                due_at=p.due_at,
            )
        )
        due[target] = _iso(p.due_at)
    if fresh:
        routing_state.insert_sla(t.id, now, rows)
    else:
        for row in rows:
            routing_state.put_sla(t.id, str(row.pop("target")), now, **row)
    audit_events.event(
        t.id,
        "sla_started",
        {"policy": tg.policy, "calendar": tg.calendar.name, "due": due, "why": tg.reason, "reason": reason},
        now=now,
    )


def pause(ticket_id: int, now: dt.datetime, cfg: SiteConfig, reason: str) -> None:
    """Stop counting (waiting on the customer): keep what was used, forget the instants."""
    paused = []
    for row in routing_state.sla_rows(ticket_id, open_only=True):
        if row.clock_from is None:
            continue
        used = sla.consumed(row.clock_from, now, row.consumed_s, calendar_of(cfg, row.calendar))
        routing_state.update_sla(row.id, now, consumed_s=used, clock_from=None, warn_at=None, due_at=None)
        paused.append(row.target)
    if paused:
        audit_events.event(ticket_id, "sla_paused", {"targets": paused, "reason": reason}, now=now)


def resume(ticket_id: int, now: dt.datetime, cfg: SiteConfig, reason: str) -> None:
    """Count again from ``now`` with what is left of each budget."""
    due: dict[str, str | None] = {}
    for row in routing_state.sla_rows(ticket_id, open_only=True):
        if row.clock_from is not None:
            continue
        p = sla.plan(now, row.budget_s, row.consumed_s, row.warn_fraction, calendar_of(cfg, row.calendar))
        routing_state.update_sla(
            row.id,
            now,
            clock_from=now,
            warn_at=p.warn_at,
            due_at=p.due_at,
            warned_at=sla.still_fired(row.warned_at, p.warn_at, now),
            breached_at=sla.still_fired(row.breached_at, p.due_at, now),
        )
        due[row.target] = _iso(p.due_at)
    if due:
        audit_events.event(ticket_id, "sla_resumed", {"due": due, "reason": reason}, now=now)


def stop(
    ticket_id: int, now: dt.datetime, cfg: SiteConfig, targets: Iterable[str], *, reason: str, cancel: bool = False
) -> dict[str, str]:
    """Stop the named clocks: met or missed (the awaited thing happened), or cancelled."""
    wanted = set(targets)
    done: dict[str, str] = {}
    for row in routing_state.sla_rows(ticket_id, open_only=True):
        if row.target not in wanted:
            continue
        used = (
            sla.consumed(row.clock_from, now, row.consumed_s, calendar_of(cfg, row.calendar))
            if row.clock_from
            else row.consumed_s
        )
        result = "cancelled" if cancel else sla.outcome(used, row.budget_s, row.breached_at is not None)
        routing_state.update_sla(row.id, now, consumed_s=used, clock_from=None, stopped_at=now, outcome=result)
        done[row.target] = result
    if done:
        audit_events.event(ticket_id, "sla_stopped", {"outcomes": done, "reason": reason}, now=now)
    return done


def replan(t: TicketFacts, now: dt.datetime, cfg: SiteConfig, reason: str) -> None:
    """New policy targets for the open clocks (priority, team or policy changed), keeping what was used."""
    tg = targets_for(t, cfg)
    due: dict[str, str | None] = {}
    for row in routing_state.sla_rows(t.id, open_only=True):
        budget = tg.budget(sla.RESOLUTION if row.target == sla.RESOLUTION else sla.FIRST_RESPONSE).total_seconds()
        same = (row.policy, row.calendar, row.budget_s, row.warn_fraction) == (
            tg.policy,
            tg.calendar.name,
            budget,
            tg.warn_at,
        )
        if same:
            continue
        values: dict = dict(policy=tg.policy, calendar=tg.calendar.name, budget_s=budget, warn_fraction=tg.warn_at)
        if row.clock_from is not None:
            used = sla.consumed(row.clock_from, now, row.consumed_s, calendar_of(cfg, row.calendar))
            p = sla.plan(now, budget, used, tg.warn_at, tg.calendar)
            values.update(
                consumed_s=used,
                clock_from=now,
                warn_at=p.warn_at,
                due_at=p.due_at,
                warned_at=sla.still_fired(row.warned_at, p.warn_at, now),
                breached_at=sla.still_fired(row.breached_at, p.due_at, now),
            )
            due[row.target] = _iso(p.due_at)
        else:
            due[row.target] = None  # paused: planned again on resume
        routing_state.update_sla(row.id, now, **values)
    if due:
        audit_events.event(
            t.id, "sla_replanned", {"policy": tg.policy, "due": due, "why": tg.reason, "reason": reason}, now=now
        )


def note_agent_reply(ticket_id: int, now: dt.datetime, cfg: SiteConfig) -> dict[str, str]:
    """A person answered the customer publicly: the response clocks stop (met or missed)."""
    return stop(ticket_id, now, cfg, sla.RESPONSE_TARGETS, reason="agent replied")
