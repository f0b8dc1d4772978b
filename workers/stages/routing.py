"""Stage: where the ticket goes and its clocks (``workers/tickets/routing_stage.py``, ``router/routing.py``).

A new ticket gets its team, agent and SLA clocks; a customer message on an existing ticket moves it through
the lifecycle (waiting -> open, resolved -> open) with its SLA clocks.
"""

from __future__ import annotations

from helpline.workers.tickets import routing_stage
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    assert ctx.ticket is not None  # the ticket stage ran
    if ctx.outcome.action == "created":
        routing_stage.on_new_ticket(ctx.ticket.id, ctx.env, ctx.settings, ctx.now)
        return Decision("routed")
    routing_stage.on_customer_message(
        ctx.ticket.id, ctx.decision.action == "reopen", ctx.decision.reason, ctx.settings, ctx.now
    )
    return None
