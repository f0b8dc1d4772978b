"""The pipeline's stages, in the order the worker runs them (ARCHITECTURE.md, "workers/").

Each stage is a module of this package with ``run(ctx: Context) -> Decision | None`` (``context.py``):
it reads the inbound message and what the earlier stages left in the context, does its part inside the
pipeline's one transaction, and returns a decision to name in the log, or nothing. A decision with an
outcome ends the message there. ``pipeline.run_stages`` runs them.

Adding a stage is one line: write ``workers/stages/NAME.py`` with its ``run`` (and its tests in
``tests/workers/stages/``), then put ``"NAME"`` where it belongs in ``ORDER``.
"""

from __future__ import annotations

import importlib
from typing import Callable

from helpline.workers.stages.context import Context, Decision

ORDER: tuple[str, ...] = (
    "slack_agent",  # an agent writing in a ticket's Slack thread: handled whole, not a customer message
    "own_mail",  # our own outbound mail coming back: ignored (no loop)
    "delivery_report",  # a bounce or delay notice about mail we sent
    "channel_command",  # SMS keywords (STOP, START, HELP) and survey answers: no ticket
    "sender_auth",  # what the trusted MTA said about the sender; quarantine under the reject policy
    "spam",  # the MTA's spam verdict, the block list: kept as a spam ticket, nothing sent
    "thread",  # which ticket the message belongs to, from participants' evidence
    "dedupe",  # an exact copy is a duplicate; the same problem again joins the open ticket
    "customer",  # a new sender becomes a customer
    "triage",  # language, sentiment; a new ticket's category and priority
    "ticket",  # append, reopen, or create the ticket; its thread keys
    "routing",  # team, agent, SLA clocks; the lifecycle on a customer's reply
    "participants",  # the sender, Reply-To and (optionally) Cc'd addresses take part
    "message",  # the message itself; near-duplicate bookkeeping; triage of a reply
    "slack_notice",  # agents hear of it in Slack
    "events",  # the audit trail of the message
    "ack",  # the customer's acknowledgement, on the channel's terms
    "webhooks",  # a webhook source's bookkeeping and the outbound webhook events
)

Stage = Callable[[Context], "Decision | None"]


def load(order: tuple[str, ...] = ORDER) -> tuple[tuple[str, Stage], ...]:
    """(name, run) of each stage in ``order``."""
    return tuple((name, importlib.import_module(f"{__name__}.{name}").run) for name in order)


STAGES = load()
