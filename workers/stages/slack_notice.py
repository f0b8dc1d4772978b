"""Stage: agents hear of it in Slack: the new ticket in the team's channel, or this message in its thread
(``workers/slack_outbox.py``). Only with a Slack bot configured, and never during a history import."""

from __future__ import annotations

from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    s = ctx.settings
    if ctx.quiet or not (s.slack_bot_token and s.slack_channel):
        return None
    from helpline.workers.slack_outbox import on_customer_message  # Slack's side: loaded only when Slack is configured

    assert ctx.ticket is not None and ctx.message_id is not None  # the message stage ran
    ctx.outcome.outbox_ids += on_customer_message(
        ctx.ticket.id, ctx.message_id, ctx.outcome.action, ctx.ticket.status, s, ctx.env
    )
    return Decision("queued")
