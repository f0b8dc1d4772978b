"""Stage: the message itself, stored in the ticket with its attachments, language and sentiment.

Then what follows from it on the ticket: the near-duplicate events and the new ticket's fingerprint
(``workers/inbound/duplicates.py``), and for an existing ticket the triage of the new message (language, a sharp
sentiment drop, a priority raise; ``workers/tickets/triage.py``).
"""

from __future__ import annotations

from helpline.store.inbound import message_state

from helpline.workers.inbound import duplicates
from helpline.workers.tickets import triage
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    env, now, ticket, sig, customer = ctx.env, ctx.now, ctx.ticket, ctx.signals, ctx.customer
    assert ticket is not None and sig is not None and customer is not None  # the earlier stages ran
    if ctx.auth.trusted:  # kept on the message: agents' views show a failed sender (notifier/slack/slack_blocks.py)
        env.auth = {**env.auth, "verdict": ctx.auth.as_dict()}
    ctx.message_id = msg_id = message_state.add_inbound(
        ticket.id, ctx.row.id, env, ctx.body_hash, now, extra=sig.message_columns()
    )
    created = ctx.outcome.action == "created"
    if ctx.fingerprint is not None:  # near-duplicate events, the new ticket's fingerprint (incidents group it later)
        duplicates.after_message(ticket.id, customer.id, ctx.fingerprint, ctx.near, created, msg_id, now)
    if not created:  # language, sentiment turn, priority raise
        triage.after_customer_message(ticket.id, msg_id, env, sig, customer.id, ctx.settings, now)
    return None
