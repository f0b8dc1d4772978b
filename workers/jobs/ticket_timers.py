"""The scheduler's ticket jobs: SLA warnings and breaches (with escalation), the
lifecycle timers, the team queues, agent loads, and the configuration file.

Every job finds what is due from stored instants and handles each ticket in
a transaction of its own, guarded so that it fires once however many
schedulers run: a conditional UPDATE of the fired-at column (SLA), the
ticket's status itself (auto-close, auto-resolve) or ``reminded_at``
(reminder). ``jobs(settings)`` is what ``workers.scheduler.tick`` runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Callable

from helpline.router import escalation, lifecycle, sla
from helpline.store.tickets import routing_state
from helpline.store.tickets import ticket_lookups
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import SiteConfig, site_config
from helpline.store.db import run_tx

from helpline.store.inbound import audit_events
from helpline.workers import metrics
from helpline.workers.tickets import customer_notices
from helpline.workers.tickets import notices
from helpline.workers.tickets import sla_clock
from helpline.workers.tickets import ticket_ops

log = logging.getLogger("helpline.workers")
Clock = Callable[[], dt.datetime]


def jobs(settings: Settings, clock: Clock = utcnow) -> dict[str, Callable[[], object]]:
    return {
        "config_synced": lambda: sync_config(settings),
        "agent_loads_reconciled": reconcile_loads,
        "sla_fired": lambda: fire_sla(settings, clock),
        "lifecycle_timers": lambda: lifecycle_timers(settings, clock),
        "queue_offered": lambda: ticket_ops.offer_queue(settings, now=clock),
    }


# ---- configuration and loads ---------------------------------------------------------------
_synced: dict[str, object] = {}


def sync_config(settings: Settings) -> dict | None:
    """Load teams and agents into the database when the configuration file changed (and once at start)."""
    if not settings.config_file:
        return None
    cfg = site_config(settings)
    if _synced.get(settings.config_file) is cfg:
        return None
    report = run_tx(lambda: routing_state.sync(cfg))
    _synced[settings.config_file] = cfg
    changes = {k: v for k, v in report.as_dict().items() if v}
    if changes:
        log.info(
            "event=config_synced path=%s %s",
            settings.config_file,
            " ".join(f"{k}={len(v)}" for k, v in changes.items()),
        )
    return changes


def reconcile_loads() -> dict:
    fixed = run_tx(routing_state.reconcile_loads, durable=False)
    for email, (was, real) in fixed.items():
        log.warning("event=agent_load_fixed agent=%s was=%d now=%d", email, was, real)
    return fixed


# ---- SLA ------------------------------------------------------------------------------------
def fire_sla(settings: Settings, clock: Clock = utcnow) -> dict[str, int]:
    """Fire every due warning and breach once; escalate where rules say so."""
    now = clock()
    due = run_tx(lambda: routing_state.due_sla(now), durable=False)
    fired = {"warning": 0, "breach": 0}
    for row, kind in due:
        try:
            if run_tx(functools.partial(_fire, row.id, row.ticket_id, kind, settings, now)):
                fired[kind] += 1
                metrics.SLA_FIRED.labels(kind).inc()
        except Exception as exc:  # one broken ticket must not stop the others
            log.warning(
                "event=sla_fire_failed ticket=%d target=%s error=%s", row.ticket_id, row.target, type(exc).__name__
            )
    return fired


def _fire(row_id: int, ticket_id: int, kind: str, settings: Settings, now: dt.datetime) -> bool:
    t = ticket_ops.load(ticket_id)
    row = next((r for r in routing_state.sla_rows(ticket_id, open_only=True) if r.id == row_id), None)
    if row is None or row.clock_from is None:
        return False  # stopped or paused since it was found
    cfg = site_config(settings)
    if t.status not in lifecycle.ACTIVE or t.status == lifecycle.WAITING:
        _settle(t, cfg, now)  # the status was changed by a path that did not tell the clocks
        return False
    if row.target in sla.RESPONSE_TARGETS:
        answered = ticket_lookups.first_agent_reply_since(ticket_id, row.created_at)
        if answered is not None:  # a reply recorded by a path that did not stop the clock itself
            sla_clock.stop(ticket_id, answered, cfg, [row.target], reason="agent replied")
            return False
    column = "breached_at" if kind == "breach" else "warned_at"
    instant = row.due_at if kind == "breach" else row.warn_at
    if instant is None or instant > now or not routing_state.mark_fired(row.id, column, now):
        return False
    if kind == "breach":
        routing_state.mark_fired(row.id, "warned_at", now)  # a warning not fired yet is superseded, never late
    info = routing_state.team_info(t.team)
    data = {
        "target": row.target,
        "policy": row.policy,
        "due_at": row.due_at.isoformat() + "Z" if row.due_at else None,
        "team": t.team,
        "assignee": t.assignee,
        "slack_channel": info.slack_channel if info else "",
    }
    audit_events.event(ticket_id, f"sla_{kind}", data, now=now)
    title, body = notices.sla_text(
        t.number, t.subject, kind, row.target, row.due_at, row.policy, cfg, row.calendar, t.team, t.assignee
    )
    hold = notices.hold_until(t.team, cfg, now, row.calendar)  # outside the clock's hours: when it opens
    notices.team_notification(ticket_id, t.team, f"sla_{kind}", title, now, {"target": row.target}, hold=hold)
    if info and info.lead_email:
        notices.internal_email(
            ticket_id,
            t.number,
            info.lead_email,
            title,
            body,
            kind=f"sla_{kind}",
            unique=f"sla-{kind}:{row.id}:{now.isoformat()}",
            settings=settings,
            team=t.team,
            now=now,
            hold=hold,
        )
    _escalate(t, kind, row.target, row.calendar, settings, cfg, now)
    return True


def _settle(t: ticket_ops.TicketState, cfg: SiteConfig, now: dt.datetime) -> None:
    """Bring the clocks in line with a status written without ``ticket_ops.change_status``
    (so that a resolved ticket never breaches, and waiting on the customer pauses)."""
    why = f"status {t.status} set without the clocks"
    if t.status == lifecycle.WAITING:
        sla_clock.pause(t.id, now, cfg, reason=why)
        return
    if t.status == lifecycle.MERGED:
        sla_clock.stop(t.id, now, cfg, (sla.FIRST_RESPONSE, sla.NEXT_RESPONSE, sla.RESOLUTION), reason=why, cancel=True)
        return
    resolved = ticket_lookups.resolved_at(t.id)
    when = min(resolved, now) if resolved else now
    sla_clock.stop(t.id, when, cfg, [sla.RESOLUTION], reason=why)
    sla_clock.stop(t.id, when, cfg, sla.RESPONSE_TARGETS, reason=why, cancel=True)


def _escalate(
    t: ticket_ops.TicketState,
    kind: str,
    target: str,
    calendar: str,
    settings: Settings,
    cfg: SiteConfig,
    now: dt.datetime,
) -> None:
    rules = escalation.matching(
        cfg.escalations, event=kind, target=target, priority=t.priority, customer_tier=t.customer_tier, team=t.team
    )
    if not rules:
        return
    steps = escalation.steps(rules, t.priority)
    why = f"SLA {kind} of {notices.LABELS.get(target, target)}; rule(s) {', '.join(repr(n) for n in steps.rules)}"
    carry_out(
        t,
        steps,
        why=why,
        actor="escalation",
        occasion=f"{kind}:{target}",
        settings=settings,
        cfg=cfg,
        now=now,
        calendar=calendar,
    )


def carry_out(
    t: ticket_ops.TicketState,
    steps: escalation.Steps,
    *,
    why: str,
    actor: str,
    occasion: str,
    settings: Settings,
    cfg: SiteConfig,
    now: dt.datetime,
    calendar: str | None = None,
) -> None:
    """Do what escalation ``steps`` say (priority, team, tier, notifications), each step an ``escalated``
    event; an SLA warning or breach comes here, and so does an agent's Escalate button in Slack.
    ``occasion`` tells notification emails of different escalations apart. Notifications are held
    while ``calendar`` (the SLA clock's; None: the team's) is closed, like the SLA notices."""
    names = list(steps.rules)
    team_before = t.team
    if steps.priority:
        was = t.priority
        ticket_ops.set_priority(t, steps.priority, now=now, settings=settings, actor=actor, reason=why)
        audit_events.event(
            t.id,
            "escalated",
            {"step": "priority", "from": was, "to": steps.priority, "rules": names},
            actor=actor,
            now=now,
        )
    if steps.team and steps.team != t.team:
        was_team = t.team
        try:
            ticket_ops.transfer(t, steps.team, now=now, settings=settings, actor=actor, reason=why, min_tier=steps.tier)
            audit_events.event(
                t.id,
                "escalated",
                {"step": "team", "from": was_team, "to": steps.team, "rules": names, "agent": t.assignee},
                actor=actor,
                now=now,
            )
        except ticket_ops.TicketOpError as exc:
            audit_events.event(
                t.id,
                "escalation_failed",
                {"step": "team", "to": steps.team, "error": str(exc), "rules": names},
                actor=actor,
                now=now,
            )
    elif steps.tier:
        was_agent = t.assignee
        got, result = ticket_ops.raise_tier(t, steps.tier, now=now, settings=settings, actor=actor, why=why)
        audit_events.event(
            t.id,
            "escalated",
            {"step": "tier", "tier": steps.tier, "from": was_agent, "agent": got, "result": result, "rules": names},
            actor=actor,
            now=now,
        )
    # A ticket moved to another team by now follows that team's calendar.
    hold = notices.hold_until(t.team, cfg, now, calendar if t.team == team_before else None) if steps.notify else None
    for who in steps.notify:
        text = f"[{t.number}] escalated: {why}"
        if who == "team":
            notices.team_notification(t.id, t.team, "escalation", text, now, {"rules": names}, hold=hold)
        else:
            info = routing_state.team_info(t.team)
            to = (info.lead_email if info else "") if who == "lead" else (t.assignee or "")
            if not to:
                audit_events.event(
                    t.id, "escalation_not_notified", {"who": who, "reason": f"no {who} email"}, actor=actor, now=now
                )
                continue
            notices.internal_email(
                t.id,
                t.number,
                to,
                text,
                text + f"\n\nPriority: {t.priority}\nTeam: {t.team}\nAssignee: {t.assignee or 'nobody'}\n",
                kind="escalation",
                unique=f"escalation:{t.id}:{who}:{occasion}:{now.isoformat()}",
                settings=settings,
                team=t.team,
                now=now,
                hold=hold,
            )
        audit_events.event(t.id, "escalated", {"step": "notify", "who": who, "rules": names}, actor=actor, now=now)


# ---- lifecycle timers -------------------------------------------------------------------------------
def lifecycle_timers(settings: Settings, clock: Clock = utcnow) -> dict[str, int]:
    now = clock()
    done = {"closed": 0, "reminded": 0, "resolved": 0}
    day = dt.timedelta(days=1)

    close_before = now - settings.auto_close_days * day
    for tid in run_tx(
        lambda: routing_state.tickets_with_status(lifecycle.RESOLVED, "resolved_at", close_before), durable=False
    ):

        def close(tid: int = tid) -> bool:
            t = ticket_ops.load(tid)
            if t.status != lifecycle.RESOLVED:
                return False
            # Closed when it fell due, not when this tick saw it: a conversation imported from years ago
            # (or one the scheduler missed while it was down) otherwise starts its retention period today.
            resolved = ticket_lookups.resolved_at(tid)
            due = resolved + settings.auto_close_days * day if resolved is not None else now
            ticket_ops.change_status(
                t,
                lifecycle.CLOSED,
                now=min(now, due),
                settings=settings,
                actor="scheduler",
                reason=f"resolved more than {settings.auto_close_days:g} days ago",
            )
            return True

        done["closed"] += bool(run_tx(close, durable=False))

    if settings.waiting_reminder_days < settings.waiting_resolve_days:
        remind_before = now - settings.waiting_reminder_days * day
        for tid in run_tx(lambda: routing_state.waiting_tickets(remind_before, unreminded=True), durable=False):
            done["reminded"] += bool(run_tx(functools.partial(_remind, tid, settings, now)))

    resolve_before = now - settings.waiting_resolve_days * day
    for tid in run_tx(lambda: routing_state.waiting_tickets(resolve_before, unreminded=False), durable=False):

        def resolve(tid: int = tid) -> bool:
            t = ticket_ops.load(tid)
            if t.status != lifecycle.WAITING:
                return False
            ticket_ops.change_status(
                t,
                lifecycle.RESOLVED,
                now=now,
                settings=settings,
                actor="scheduler",
                reason=f"no answer from the customer for {settings.waiting_resolve_days:g} days",
            )
            return True

        done["resolved"] += bool(run_tx(resolve, durable=False))
    if done["closed"] or done["resolved"]:
        ticket_ops.offer_queue(settings, now=clock)  # resolved tickets freed their agents
    return done


def _remind(ticket_id: int, settings: Settings, now: dt.datetime) -> bool:
    t = ticket_ops.load(ticket_id)
    routing = routing_state.routing_of(ticket_id)
    if t.status != lifecycle.WAITING or routing.reminded_at is not None:
        return False
    if not routing_state.mark_reminded(ticket_id, now):
        return False
    left = settings.waiting_resolve_days - settings.waiting_reminder_days
    out_id, channel, why_not = customer_notices.waiting_reminder(t, left, now=now, settings=settings)
    audit_events.event(
        ticket_id,
        "waiting_reminder",
        {
            "sent": out_id is not None,
            **({"channel": channel} if channel else {}),
            **({"reason": why_not} if why_not else {}),
            "resolves_in_days": left,
        },
        actor="scheduler",
        now=now,
    )
    return True
