"""Stage: language and sentiment of the message; for a message that opens a ticket, its category and priority.

The CPU-heavy parts (language detection, sentiment, the category model) usually ran in ``pipeline.prepare``
before the write lock; this stage takes them from there, or works them out now. Nothing is written here: the
ticket stage writes the ticket with them and the events that say why (``workers/tickets/triage.py``,
``router/priority.py``, ``router/categories/category.py``).
"""

from __future__ import annotations

from helpline.store.config import Settings

from helpline.workers.inbound import threads
from helpline.workers.tickets import triage
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    pre = ctx.pre
    sig = ctx.signals = (pre.signals if pre else None) or triage.signals(ctx.env, ctx.settings)
    if ctx.decision.action in ("append", "reopen"):
        return None
    assert ctx.customer is not None  # the customer stage ran
    subject = ctx.subject = threads.clean_subject(ctx.env.subject) or "(no subject)"
    cat = ctx.category = (pre.category if pre else None) or categorise(subject, ctx.env.text, ctx.settings)
    ctx.priority = triage.new_ticket_priority(
        ctx.env, subject, ctx.customer.id, cat["category"], sig, ctx.settings, ctx.now
    )
    return Decision(ctx.priority.level)


def categorise(subject: str, text: str, settings: Settings) -> dict:
    """The category of a new ticket with its reason; unclassified tickets (or a broken model) go to triage."""
    from helpline.router.categories.category import (
        categorise as by_model,
    )  # loads the model's libraries: only when used

    data = by_model(subject, text, settings)
    if data["category"] == "unclassified":
        data["team"] = settings.triage_team
    return data
