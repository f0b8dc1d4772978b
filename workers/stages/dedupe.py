"""Stage: the same text again is a duplicate; the same problem again joins the customer's open ticket.

An exact copy (same sender and text within ``HELPLINE_DEDUPE_WINDOW_S``) is a duplicate only where it would
land: "Thanks, that fixed it!" on two different tickets is two replies. A message that would open a ticket
and reads like the customer's open one (``workers/inbound/duplicates.py``) is merged into it when sure enough, and
only where the channel and the sender's authentication allow it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from helpline.store.inbound import inbound_state
from helpline.store.inbound import message_state
from helpline.store.inbound.audit_events import event

from helpline.workers.inbound import auth_policy
from helpline.workers.inbound import duplicates
from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    env, settings, now, decision = ctx.env, ctx.settings, ctx.now, ctx.decision
    dup = message_state.recent_duplicate(
        env.sender.address, ctx.body_hash, now - dt.timedelta(seconds=settings.dedupe_window_s)
    )
    if (
        dup is not None
        and dup.external_id != env.external_id
        and decision.ticket_id in (None, dup.ticket_id)
        and ctx.channel.copy_may_join(env, dup.ticket_id)
    ):
        event(
            dup.ticket_id,
            "duplicate_received",
            {"inbound": ctx.row.id, "external_id": env.external_id, "duplicate_of": dup.message_id},
            now=now,
        )
        inbound_state.finish(
            ctx.row.id,
            inbound_state.DUPLICATE,
            f"same sender and text as message {dup.message_id} within {settings.dedupe_window_s}s",
            dup.ticket_id,
            now,
        )
        return done(Outcome("duplicate", dup.ticket_id))
    if decision.action != "new":  # only a message that would open a ticket of its own is compared
        return None
    fp = ctx.fingerprint = (ctx.pre.fingerprint if ctx.pre is not None else None) or duplicates.fingerprint_of(
        env, settings
    )
    near = (
        duplicates.find_near(
            ctx.customer.id,
            fp,
            settings,
            now,
            duplicates.meaning_text(env),
            ctx.pre.meaning if ctx.pre is not None else None,
        )
        if fp is not None and ctx.customer is not None
        else None
    )
    if near is not None and near.merge and not ctx.channel.may_join(env, near.ticket_id):
        near = dataclasses.replace(near, merge=False)  # alike, but across a source's boundary: only a suggestion
    ctx.near = near
    if near is not None and near.merge and auth_policy.may_join(ctx.auth, settings.auth_failed_policy):
        ctx.thread = duplicates.as_decision(near)  # the same customer's same problem again: into their open ticket
        return Decision("near_duplicate")
    return Decision("similar") if near is not None else None
