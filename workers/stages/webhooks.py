"""Stage: a webhook source's bookkeeping (the identities it vouched for, the message's fields, the ticket's
creator; ``InboundChannel.after_message``) and, with ``HELPLINE_WEBHOOK_CALLBACKS``, the outbound events of
the message for every channel (``workers/inbound/api_messages.py``). Never during a history import."""

from __future__ import annotations

from helpline.workers.inbound import api_messages
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    if ctx.quiet:
        return None
    ctx.channel.after_message(ctx)
    if not ctx.settings.webhook_callbacks:
        return None
    assert ctx.ticket is not None and ctx.message_id is not None  # the message stage ran
    ids = api_messages.callbacks(ctx.env, ctx.ticket.id, ctx.outcome.action, ctx.message_id, ctx.settings, ctx.now)
    ctx.outcome.outbox_ids += ids
    return Decision("queued") if ids else None
