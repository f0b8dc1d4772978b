"""Stage: spam (the trusted MTA's verdict, the block list) is kept as a ticket in the ``spam`` status, never
threaded into a customer's ticket, nothing sent (``workers/tickets/spam_stage.py`` decides and files it)."""

from __future__ import annotations

from helpline.workers.tickets import spam_stage
from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    found = spam_stage.verdict(ctx.env, ctx.settings)  # the trusted MTA's spam verdict, the block list
    if found is None:
        return None
    ticket_id = spam_stage.file(ctx.row.id, ctx.env, found, ctx.settings, ctx.now)
    return done(Outcome("spam", ticket_id, reason=found.reason))
