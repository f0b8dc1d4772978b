"""Stage: a message that is a command to its channel opens no ticket (SMS: STOP, START, HELP, a survey digit).

The channel decides (``InboundChannel.command``; the SMS rules are in ``workers/inbound/sms_stage.py``).
"""

from __future__ import annotations

from helpline.store.inbound import inbound_state

from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    got = ctx.channel.command(ctx)
    if got is None:
        return None
    inbound_state.finish(ctx.row.id, inbound_state.PROCESSED, got.reason, None, ctx.now)
    return done(Outcome("sms_keyword", outbox_ids=got.outbox_ids, reason=got.reason))
