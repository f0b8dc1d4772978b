"""Stage: the ticket the message goes into: the one threading chose (appended, reopened) or a new one.

A new ticket is written with what triage worked out (category, team, priority, language) in one INSERT, and
events saying why; then the message's thread keys point at it. A key that was free when threading looked is
*claimed*: if another worker claimed it first, the transaction fails and runs again, then joining that
worker's ticket (``pipeline.process``).
"""

from __future__ import annotations

from helpline.store.inbound import thread_state
from helpline.store.tickets import ticket_refs
from helpline.store.inbound.audit_events import event
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from helpline.workers.tickets import triage
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    decision, now = ctx.decision, ctx.now
    if decision.action in ("append", "reopen"):
        assert decision.ticket_id is not None  # an append or reopen names its ticket
        ticket = ctx.ticket = ticket_refs.get(decision.ticket_id)
        if decision.action == "reopen":
            event(ticket.id, "ticket_reopened", {"from": ticket.status, "reason": decision.reason}, now=now)
            ctx.outcome.action = "reopened"
        ticket_refs.update(ticket.id, updated_at=now, last_customer_at=now)
        thread_state.add_thread_keys(ticket.id, ctx.keys)
        return Decision(ctx.outcome.action)
    ticket = ctx.ticket = _new_ticket(ctx)
    thread_state.add_thread_keys(
        ticket.id,
        ctx.keys,
        claim=[k for k in ctx.keys if k not in ctx.known],
        repoint=decision.action == "new_follow_up",
    )
    ctx.outcome.action = "created"
    return Decision("created")


def _new_ticket(ctx: Context) -> ticket_refs.TicketRef:
    env, decision, now, sig, cat, prio = ctx.env, ctx.decision, ctx.now, ctx.signals, ctx.category, ctx.priority
    assert ctx.customer is not None and sig is not None and cat is not None and prio is not None  # earlier stages
    possible = decision.action == "new_possible_follow_up"
    ticket = ticket_refs.create(
        env,
        ctx.customer.id,
        ctx.subject,
        prio.level,
        support_address(ctx.env, ctx.settings),
        now,
        decision.ticket_id,
        possible,
        extra={"category": cat["category"], "team": cat.get("team"), **triage.ticket_columns(sig)},
    )
    event(ticket.id, "ticket_created", {"channel": env.channel, "reason": decision.reason}, now=now)
    event(ticket.id, "priority_set", prio.as_event(), now=now)
    triage.on_new_ticket(ticket.id, sig, now)
    event(ticket.id, "category_set", cat, now=now)
    if decision.ticket_id:
        event(
            ticket.id,
            "possible_follow_up" if possible else "follow_up_of",
            {"ticket": decision.ticket_id, "reason": decision.reason},
            now=now,
        )
    return ticket


def support_address(env: Envelope, settings: Settings) -> str:
    """The support address the customer wrote to (plus-tags dropped), else the first configured one."""
    ours = {a.lower() for a in settings.support_addresses}
    for addr in env.recipients.to + env.recipients.cc:
        local, _, domain = addr.rpartition("@")
        if f"{local.split('+', 1)[0]}@{domain}".lower() in ours:
            return f"{local.split('+', 1)[0]}@{domain}".lower()
    return settings.support_addresses[0]
