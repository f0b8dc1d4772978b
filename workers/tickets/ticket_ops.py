"""Changes to a ticket's status, owner, team and priority, inside the caller's transaction.

``change_status`` is the one writer of a ticket's status: it asks
``router.lifecycle.check`` first (an invalid transition raises
``InvalidTransition`` and nothing is written), then does what the change
implies: SLA clocks paused, resumed, stopped or restarted; the agent's load
released or claimed again; waiting-on-customer timers set or cleared. The
pipeline, the scheduler and the command line all come through here, and
every change is an audit event with its actor and reason.

Assignment claims the agent's load in the database (``routing_state.claim``),
so capacity holds however many workers assign at once. A ticket nobody can
take waits in its team's queue; ``offer_queue`` (scheduler, and after any
change that frees an agent) offers it again, most urgent and oldest first,
each ticket in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from helpline.notifier.webhook import webhook_events
from helpline.router import assign, lifecycle, sla
from helpline.store.tickets import routing_state
from helpline.store.tickets import ticket_lookups
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import PRIORITIES, SiteConfig, site_config
from helpline.store.db import run_tx
from helpline.store.envelope import ENVELOPE_VERSION, Envelope, NewerEnvelope

from helpline.store.inbound import audit_events
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import customer_notices
from helpline.workers.tickets import merge_ops
from helpline.workers.tickets import sla_clock

log = logging.getLogger("helpline.workers")
ACTIVE = lifecycle.ACTIVE


class TicketOpError(ValueError):
    """An operation that cannot be done as asked; the message says why and what to do instead."""


def readable_envelope(data: dict[str, Any], what: str) -> Envelope:
    """``Envelope.from_dict`` for an operation a person asked for (detach, not-spam, a reply): during a rolling
    upgrade the stored envelope may be of a newer release than this host (issue 16). The inbound pipeline defers
    such a row (``workers/actors.py``); an operation cannot wait, so it is refused, saying where it can be done,
    and its transaction changes nothing."""
    try:
        return Envelope.from_dict(data)
    except NewerEnvelope as exc:
        raise TicketOpError(
            f"{what} was stored by a newer Helpline release (envelope version {exc.version}; this host reads up to "
            f"{ENVELOPE_VERSION}): upgrade this host, or do this from one that runs the newer release"
        ) from exc


@dataclass
class TicketState:
    id: int
    number: str
    status: str
    priority: str
    team: str | None
    assignee: str | None
    category: str | None
    language: str | None
    customer_tier: str
    channel: str
    subject: str
    support_address: str
    customer_id: int

    def facts(self) -> sla_clock.TicketFacts:
        return sla_clock.TicketFacts(self.id, self.priority, self.team, self.customer_tier)


def load(ticket_id: int, *, lock: bool = True) -> TicketState:
    """The ticket, locked against concurrent changes (PostgreSQL row lock; SQLite's write lock is held)."""
    row = ticket_lookups.for_change(ticket_id, lock=lock)
    if row is None:
        raise TicketOpError(f"no ticket with id {ticket_id}")
    return TicketState(*row)


def config(settings: Settings) -> SiteConfig:
    return site_config(settings)


# ---- status ---------------------------------------------------------------------------
def change_status(
    t: TicketState, to: str, *, now: dt.datetime, settings: Settings, actor: str = "system", reason: str = ""
) -> None:
    """Move the ticket to ``to`` if the lifecycle allows it, with everything that follows from it."""
    frm = t.status
    if frm == to:
        return
    lifecycle.check(frm, to, ticket=t.number)
    cfg = config(settings)
    values: dict[str, Any] = {"status": to, "updated_at": now}
    if to == lifecycle.RESOLVED:
        values["resolved_at"] = now
    elif to == lifecycle.CLOSED:
        values["closed_at"] = now
    elif frm == lifecycle.RESOLVED:  # reopened
        values["resolved_at"] = None
    ticket_refs.update(t.id, **values)
    audit_events.event(t.id, "status_changed", {"from": frm, "to": to, "reason": reason}, actor=actor, now=now)
    webhook_events.emit(
        t.id,
        webhook_events.STATUS_CHANGED,
        f"{frm}>{to}@{now.isoformat()}",
        {"status": {"from": frm, "to": to}},
        settings,
        now,
    )  # to the ticket's webhook sources
    t.status = to
    customer_notices.on_status_change(t, frm, to, now=now, settings=settings)  # status notice, CSAT survey
    was_active, is_active = frm in ACTIVE, to in ACTIVE

    if to == lifecycle.WAITING:
        routing_state.set_routing(t.id, now, waiting_since=now, reminded_at=None)
        sla_clock.pause(t.id, now, cfg, reason="waiting on the customer")
    elif frm == lifecycle.WAITING:
        routing_state.set_routing(t.id, now, waiting_since=None, reminded_at=None)
        if is_active:
            sla_clock.resume(t.id, now, cfg, reason=reason or f"status {to}")
    if to == lifecycle.RESOLVED:
        sla_clock.stop(t.id, now, cfg, [sla.RESOLUTION], reason="resolved")
        sla_clock.stop(t.id, now, cfg, sla.RESPONSE_TARGETS, reason="resolved without a reply", cancel=True)
    elif to == lifecycle.MERGED:
        sla_clock.stop(
            t.id, now, cfg, (sla.FIRST_RESPONSE, sla.NEXT_RESPONSE, sla.RESOLUTION), reason="merged", cancel=True
        )
    elif frm == lifecycle.RESOLVED and to == lifecycle.OPEN:
        sla_clock.start(t.facts(), now, cfg, (sla.NEXT_RESPONSE, sla.RESOLUTION), reason="reopened")

    if was_active and not is_active:
        routing_state.set_routing(t.id, now, queued_at=None, queue_reason="")
        if t.assignee:
            routing_state.release(t.assignee)
    elif is_active and not was_active:  # reopened: back to its agent if they can take it, else to the queue
        if t.assignee:
            agent = routing_state.agent(t.assignee)
            if agent is not None and routing_state.claim(agent.id, now):
                audit_events.event(
                    t.id,
                    "assigned",
                    {"agent": t.assignee, "team": t.team, "reason": "reopened: back to its agent"},
                    actor=actor,
                    now=now,
                )
                return
            why = (
                "not an agent any more"
                if agent is None
                else (f"{agent.availability}" if agent.availability != "available" else "at capacity")
            )
            audit_events.event(
                t.id,
                "unassigned",
                {"agent": t.assignee, "reason": f"reopened, but the agent is {why}"},
                actor=actor,
                now=now,
            )
            ticket_refs.update(t.id, assignee=None)
            t.assignee = None
        assign_best(t, now=now, settings=settings, actor=actor, why="reopened")


# ---- assignment -------------------------------------------------------------------------
def _assigned(
    t: TicketState, email: str, *, now: dt.datetime, settings: Settings, actor: str, data: dict[str, Any]
) -> None:
    previous = t.assignee
    if previous and previous != email and t.status in ACTIVE:
        routing_state.release(previous)
    ticket_refs.update(t.id, assignee=email, updated_at=now)
    t.assignee = email
    routing_state.clear_queue(t.id, now)
    audit_events.event(
        t.id, "assigned", {"agent": email, **({"previous": previous} if previous else {}), **data}, actor=actor, now=now
    )
    target = lifecycle.on_assignment(t.status)
    if target:
        change_status(t, target, now=now, settings=settings, actor=actor, reason=f"assigned to {email}")


def assign_best(
    t: TicketState,
    *,
    now: dt.datetime,
    settings: Settings,
    actor: str = "system",
    why: str = "",
    min_tier: int = 0,
    exclude: Sequence[str] = (),
    team: routing_state.TeamInfo | None = None,
) -> str | None:
    """Give the ticket to the agent its team's strategy prefers, or queue it; the agent's email or None.

    A team unknown to the database (no `helpline teams sync` yet, or the
    built-in triage team) has no agents and no queue: the ticket just keeps
    its team. ``team`` saves reading the ticket's team again when the caller has it."""
    team = team if team is not None and team.name == t.team else routing_state.team_info(t.team)
    if team is None:
        return None
    ranking = assign.rank(
        routing_state.team_agents(team.name),
        team.strategy,
        category=t.category or "",
        language=t.language or "",
        min_tier=min_tier,
        exclude=exclude,
    )
    for r in ranking.ranked:
        if routing_state.claim(r.agent.id, now):
            data = {"team": team.name, "strategy": team.strategy, "reason": r.reason}
            if why:
                data["why"] = why
            _assigned(t, r.agent.email, now=now, settings=settings, actor=actor, data=data)
            return r.agent.email
    reason = ranking.why_none() if not ranking.ranked else "every candidate reached capacity meanwhile"
    current = routing_state.routing_of(t.id)
    if current.queued_at is None or current.min_tier != min_tier:  # offered again later: no event each time
        routing_state.set_routing(t.id, now, queued_at=current.queued_at or now, queue_reason=reason, min_tier=min_tier)
        audit_events.event(
            t.id,
            "queued",
            {"team": team.name, "reason": reason, "min_tier": min_tier, **({"why": why} if why else {})},
            actor=actor,
            now=now,
        )
    return None


def assign_to(
    t: TicketState,
    email: str,
    *,
    now: dt.datetime,
    settings: Settings,
    actor: str,
    reason: str = "",
    force: bool = False,
) -> None:
    """An operator's choice of agent: a member of the ticket's team with room, unless forced."""
    agent = routing_state.agent(email)
    if agent is None:
        raise TicketOpError(f"no agent {email!r}; `helpline agents list` shows them")
    if t.status not in ACTIVE:
        raise TicketOpError(
            f"{t.number} is {t.status}; only new, open, in_progress and waiting_customer tickets are assigned"
        )
    if t.assignee == agent.email:
        return
    teams = routing_state.agent_teams(agent.email)
    if t.team not in teams and not force:
        raise TicketOpError(
            f"{agent.email} is not in team {t.team!r} of {t.number} (their teams: "
            f"{', '.join(teams) or 'none'}); transfer the ticket, or use --force"
        )
    data = {"team": t.team, "reason": reason or "assigned by hand"}
    if not routing_state.claim(agent.id, now):
        state = (
            agent.availability
            if agent.availability != "available"
            else f"at capacity ({agent.open_count}/{agent.capacity})"
        )
        if not force:
            raise TicketOpError(f"{agent.email} is {state}; use --force to assign {t.number} anyway")
        routing_state.claim_over_capacity(agent.id, now)
        data["forced"] = state
    _assigned(t, agent.email, now=now, settings=settings, actor=actor, data=data)


def raise_tier(
    t: TicketState, tier: int, *, now: dt.datetime, settings: Settings, actor: str, why: str
) -> tuple[str | None, str]:
    """Escalation to a higher tier: (new agent or None, what happened).

    An assignee of that tier already keeps the ticket. Without a free agent of
    the tier the current assignee keeps it (better than nobody); an unassigned
    ticket waits in the queue for that tier."""
    current = routing_state.agent(t.assignee) if t.assignee else None
    if current is not None and current.tier >= tier:
        return None, f"{t.assignee} is tier {current.tier} already"
    team = routing_state.team_info(t.team)
    ranking = assign.rank(
        routing_state.team_agents(t.team) if team and t.team else [],
        team.strategy if team else "least_loaded",
        category=t.category or "",
        language=t.language or "",
        min_tier=tier,
        exclude=[t.assignee] if t.assignee else [],
    )
    for r in ranking.ranked:
        if routing_state.claim(r.agent.id, now):
            _assigned(
                t,
                r.agent.email,
                now=now,
                settings=settings,
                actor=actor,
                data={"team": t.team, "reason": f"escalated to tier {tier}: {r.reason}", "why": why},
            )
            return r.agent.email, f"reassigned to {r.agent.email}"
    if t.assignee is None:
        assign_best(t, now=now, settings=settings, actor=actor, why=why, min_tier=tier)
        return None, f"no agent of tier {tier} available ({ranking.why_none()}); queued for that tier"
    return None, f"no agent of tier {tier} available ({ranking.why_none()}); stays with {t.assignee}"


def unassign(t: TicketState, *, now: dt.datetime, actor: str, reason: str) -> None:
    if not t.assignee:
        return
    if t.status in ACTIVE:
        routing_state.release(t.assignee)
    audit_events.event(t.id, "unassigned", {"agent": t.assignee, "reason": reason}, actor=actor, now=now)
    ticket_refs.update(t.id, assignee=None, updated_at=now)
    t.assignee = None


def transfer(
    t: TicketState,
    team: str,
    *,
    now: dt.datetime,
    settings: Settings,
    actor: str,
    reason: str = "",
    agent: str | None = None,
    force: bool = False,
    min_tier: int = 0,
) -> None:
    """Move the ticket to another team (and agent); its SLA clocks follow the new team's policy."""
    if routing_state.team_info(team) is None:
        raise TicketOpError(
            f"no team {team!r}; `helpline teams list` shows them (`helpline teams sync` loads "
            "them from the configuration file)"
        )
    if t.status not in ACTIVE:
        raise TicketOpError(f"{t.number} is {t.status}; only active tickets are transferred")
    frm = t.team
    if frm != team:
        previous = t.assignee
        unassign(t, now=now, actor=actor, reason=f"transferred to team {team}")
        ticket_refs.update(t.id, team=team, updated_at=now)
        t.team = team
        routing_state.set_routing(t.id, now, queued_at=None, queue_reason="", min_tier=0)
        audit_events.event(
            t.id,
            "transferred",
            {
                "from": frm,
                "to": team,
                "reason": reason or "transferred by hand",
                **({"previous_agent": previous} if previous else {}),
            },
            actor=actor,
            now=now,
        )
        sla_clock.replan(t.facts(), now, config(settings), reason=f"transferred to team {team}")
    if agent:
        assign_to(t, agent, now=now, settings=settings, actor=actor, reason=reason, force=force)
    elif frm != team or min_tier:
        assign_best(t, now=now, settings=settings, actor=actor, why=f"transferred to team {team}", min_tier=min_tier)


def set_priority(
    t: TicketState, priority: str, *, now: dt.datetime, settings: Settings, actor: str, reason: str = ""
) -> None:
    """A new priority, and SLA clocks re-planned for it."""
    if priority not in PRIORITIES:
        raise TicketOpError(f"{priority!r} is not a priority ({', '.join(PRIORITIES)})")
    if t.status not in ACTIVE and t.status != lifecycle.RESOLVED:
        raise TicketOpError(f"{t.number} is {t.status}; its priority no longer matters")
    if t.priority == priority:
        return
    ticket_refs.update(t.id, priority=priority, updated_at=now)
    audit_events.event(
        t.id,
        "priority_changed",
        {"from": t.priority, "to": priority, "reason": reason or "set by hand"},
        actor=actor,
        now=now,
    )
    t.priority = priority
    sla_clock.replan(t.facts(), now, config(settings), reason=f"priority {priority}")


def merge(
    source: TicketState, target: TicketState, *, now: dt.datetime, settings: Settings, actor: str, reason: str = ""
) -> None:
    """Fold ``source`` into ``target``: source ends ``merged`` with a pointer to the target; its messages
    (with attachments), events, conversation and participants move over, so the customer's next reply to
    either lands in the target. ``ticket_split.split`` undoes it."""

    if source.id == target.id:
        raise TicketOpError(f"{source.number} cannot be merged into itself")
    if target.status not in ACTIVE:
        raise TicketOpError(f"{target.number} is {target.status}; merge into an active ticket")
    previous, moved = source.status, merge_ops.collect(source.id, target.id)
    change_status(
        source,
        lifecycle.MERGED,
        now=now,
        settings=settings,
        actor=actor,
        reason=reason or f"merged into {target.number}",
    )
    merge_ops.move(source.id, target.id, moved, previous_status=previous, actor=actor, reason=reason, now=now)
    audit_events.event(
        source.id,
        "merged_into",
        {"ticket": target.number, "reason": reason, "messages": len(moved.messages), "events": len(moved.events)},
        actor=actor,
        now=now,
    )
    audit_events.event(
        target.id,
        "merged",
        {"from": source.number, "reason": reason, **({"tags_added": moved.tags} if moved.tags else {})},
        actor=actor,
        now=now,
    )


# ---- the team queues ------------------------------------------------------------------------
def offer_queue(
    settings: Settings, *, team: str | None = None, limit: int = 200, now: Callable[[], dt.datetime] = utcnow
) -> int:
    """Offer queued tickets to agents who can take them now; how many were assigned.

    One transaction per ticket, so a long queue never holds locks for long; a
    team found without room is skipped for the rest of this round."""
    queued = run_tx(lambda: routing_state.queued_tickets(team, limit), durable=False)
    full: dict[str, int] = {}  # team -> lowest min_tier that found nobody
    assigned = 0
    for ticket_id, ticket_team, min_tier in queued:
        if ticket_team in full and min_tier >= full[ticket_team]:
            continue

        def offer(ticket_id: int = ticket_id, min_tier: int = min_tier) -> str | None:
            t = load(ticket_id)
            if t.assignee or t.status not in ACTIVE or routing_state.routing_of(t.id).queued_at is None:
                return "gone"
            return assign_best(t, now=now(), settings=settings, why="offered from the queue", min_tier=min_tier)

        got = run_tx(offer, durable=False)
        if got is None:
            full[ticket_team] = min(min_tier, full.get(ticket_team, min_tier))
        elif got != "gone":
            assigned += 1
    if assigned:
        log.info("event=queue_offered assigned=%d team=%s", assigned, team or "all")
    return assigned
