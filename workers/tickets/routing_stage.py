"""The pipeline's routing stage, inside its transaction: where a new ticket goes,
who takes it, and when its SLA clocks fall due; and what a customer's reply
does to a ticket's status.

The decisions are ``router.routing.route`` (team, rule-set priority and SLA
policy) and ``router.assign.rank`` (agent); this stage reads the teams and
agents, calls them and records each decision as an event with its reason.
A configuration file that cannot be read must not stop tickets from being
made: the ticket then keeps the category stage's team and the built-in SLA
targets, and the error is logged.
"""

from __future__ import annotations

import datetime as dt
import logging

from helpline.router import lifecycle, routing
from helpline.store.tickets import routing_state
from helpline.store.config import ConfigError, Settings
from helpline.store.siteconfig.config_file import EMPTY, SiteConfig, site_config
from helpline.store.envelope import Envelope

from helpline.store.inbound import audit_events
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import sla_clock
from helpline.workers.tickets import ticket_ops

log = logging.getLogger("helpline.workers")


def _config(settings: Settings) -> SiteConfig:
    try:
        return site_config(settings)
    except ConfigError as exc:
        log.error("event=config_file_unusable error=%r", str(exc)[:300])
        return EMPTY


def on_new_ticket(ticket_id: int, env: Envelope, settings: Settings, now: dt.datetime) -> list[int]:
    """Route a ticket the pipeline just made; outbox ids to hand to the senders (none yet)."""
    cfg = _config(settings)
    t = ticket_ops.load(ticket_id, lock=False)  # made in this very transaction
    language = (t.language or str(env.metadata.get("language") or "")).lower()[:16]
    facts = routing.TicketFacts(
        category=t.category or "",
        recipient=t.support_address,
        language=language,
        channel=env.channel,
        sender=env.sender.address,
        customer_tier=t.customer_tier,
        subject=t.subject,
        stage_team=t.team or "",
    )
    teams = routing_state.active_teams()
    decision = routing.route(facts, teams, cfg.rules)
    changes: dict = {}
    if decision.team != t.team:
        changes["team"] = t.team = decision.team
    if language and language != t.language:
        changes["language"] = t.language = language
    if changes:
        ticket_refs.update(t.id, **changes)
    audit_events.event(t.id, "routed", decision.as_event(), now=now)
    if decision.priority and decision.priority != t.priority:
        ticket_refs.update(t.id, priority=decision.priority)
        audit_events.event(
            t.id,
            "priority_changed",
            {"from": t.priority, "to": decision.priority, "reason": decision.priority_reason},
            now=now,
        )
        t.priority = decision.priority
    if decision.sla_policy:
        routing_state.set_routing(t.id, now, sla_policy=decision.sla_policy)
    info = next((x for x in teams if x.name == t.team), None)
    configured = cfg.team(t.team)
    team_calendar = info.business_hours if info else (configured.business_hours if configured else "")
    sla_clock.start(t.facts(), now, cfg, pinned=decision.sla_policy, team_calendar=team_calendar, fresh=True)
    if info is not None:
        ticket_ops.assign_best(t, now=now, settings=settings, why=decision.reason, team=info)
    return []


def on_customer_message(ticket_id: int, reopen: bool, reason: str, settings: Settings, now: dt.datetime) -> list[int]:
    """A customer wrote into an existing ticket: waiting ends, a resolved one reopens (lifecycle rules)."""
    t = ticket_ops.load(ticket_id)
    target = lifecycle.on_customer_message(t.status, reopen=reopen)
    if target is not None:
        ticket_ops.change_status(
            t, target, now=now, settings=settings, actor="customer", reason=reason if reopen else "customer replied"
        )
    return []


def on_agent_reply(ticket_id: int, actor: str, settings: Settings, now: dt.datetime) -> bool:
    """A person answered the customer publicly: response clocks stop; a new ticket becomes open.
    True when the status changed."""
    t = ticket_ops.load(ticket_id)
    sla_clock.note_agent_reply(ticket_id, now, _config(settings))
    if t.status == lifecycle.NEW:
        ticket_ops.change_status(t, lifecycle.OPEN, now=now, settings=settings, actor=actor, reason="agent replied")
        return True
    return False
