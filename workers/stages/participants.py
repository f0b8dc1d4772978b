"""Stage: who takes part in the ticket's conversation: the sender, Reply-To addresses, and (with
``HELPLINE_CC_PARTICIPANTS``) the Cc'd addresses that are not ours. Only participants' thread evidence counts."""

from __future__ import annotations

from helpline.store.inbound import thread_state

from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    env = ctx.env
    assert ctx.ticket is not None  # the ticket stage ran
    roles = [(env.sender.kind, env.sender.address, "sender")] + [("email", a, "reply_to") for a in env.reply_to]
    if ctx.settings.cc_participants:
        roles += [("email", a, "cc") for a in env.recipients.cc if a.rpartition("@")[2].lower() not in ctx.domains]
    thread_state.add_participants(ctx.ticket.id, roles)
    return None
