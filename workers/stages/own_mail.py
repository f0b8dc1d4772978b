"""Stage: our own outbound mail coming back (a forwarding loop, a misconfigured alias) is ignored."""

from __future__ import annotations

from helpline.store.inbound import inbound_state

from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    if not ctx.channel.own_message(ctx.env, ctx.domains):
        return None
    inbound_state.finish(
        ctx.row.id,
        inbound_state.PROCESSED,
        "our own outbound message came back; ignored to avoid a loop",
        None,
        ctx.now,
    )
    return done(Outcome("own_mail", reason="own message"))
