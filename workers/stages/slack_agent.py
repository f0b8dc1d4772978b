"""Stage: an agent writing in a ticket's Slack thread is an agent's answer or command, not a customer message.

``workers/slack/slack_replies.py`` handles it whole (reply, macro, status change); the row is finished there.
"""

from __future__ import annotations

from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    if not ctx.channel.agent_reply(ctx.env):
        return None
    from helpline.workers.slack.slack_replies import handle  # Slack's agent side: loaded by the first agent reply only

    got = handle(ctx.row.id, ctx.env, ctx.settings, ctx.now, ctx.pre.agent_files if ctx.pre is not None else None)
    return done(Outcome(got.action, got.ticket_id, got.outbox_ids, reason=got.reason, delayed=got.delayed))
