"""Stage: a delivery status notification about a message we sent fails it, or notes the delay.

A report about mail that is not ours goes on as an ordinary message.
"""

from __future__ import annotations

from helpline.notifier import outbox
from helpline.store.inbound import inbound_state
from helpline.store.inbound import message_state
from helpline.store.inbound.audit_events import event

from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    env, row, now = ctx.env, ctx.row, ctx.now
    ids = env.auto_reply.bounced_message_ids
    if not ids:
        return None
    if env.auto_reply.bounce:
        bounced = outbox.mark_bounced(ids, env.subject or "delivery failed")
        if bounced:
            tid = bounced[0].ticket_id
            inbound_state.finish(
                row.id,
                inbound_state.PROCESSED,
                f"delivery failure report for {len(bounced)} outbound message(s)",
                tid,
                now,
            )
            return done(Outcome("bounce", tid))
    known = message_state.outbound_tickets(ids)
    if not known:
        return None
    tid = known[0]
    if env.auto_reply.bounce:  # already failed by an earlier report (a resend bounced again)
        inbound_state.finish(row.id, inbound_state.PROCESSED, "repeated delivery failure report", tid, now)
        return done(Outcome("bounce", tid))
    event(tid, "delivery_delayed", {"message_ids": ids[:5], "subject": env.subject[:200]}, now=now)
    inbound_state.finish(
        row.id, inbound_state.PROCESSED, "delivery delay notice; the relay is still retrying", tid, now
    )
    return done(Outcome("bounce", tid))
