"""Stage: the audit trail of the message: received (with the threading reason), and a failed sender check."""

from __future__ import annotations

from helpline.store.inbound.audit_events import event

from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    ticket, auth, now = ctx.ticket, ctx.auth, ctx.now
    assert ticket is not None  # the ticket stage ran
    event(
        ticket.id,
        "message_received",
        {"message": ctx.message_id, "channel": ctx.env.channel, "via": ctx.decision.reason},
        now=now,
    )
    if auth.failed:
        event(
            ticket.id,
            "sender_auth_failed",
            {
                "message": ctx.message_id,
                "reason": auth.reason,
                "policy": ctx.settings.auth_failed_policy,
                **auth.results,
            },
            now=now,
        )
    return None
