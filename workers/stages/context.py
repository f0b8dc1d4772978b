"""What every stage of the pipeline sees and returns.

A stage is ``run(ctx: Context) -> Decision | None``: it reads what the inbound message and the earlier stages
left in the context, does its part inside the pipeline's transaction, writes what later stages need back into
the context, and returns a ``Decision`` when it decided something worth naming in the log (``None`` when it
had nothing to do). A decision that carries an ``outcome`` ends the message: no later stage runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from helpline.store.config import Settings
from helpline.store.envelope import Envelope
from helpline.store.inbound.sender_auth import UNTRUSTED, AuthVerdict

if TYPE_CHECKING:
    from helpline.router.priority import PriorityDecision
    from helpline.router.similarity import Fingerprint
    from helpline.store.inbound.customer_refs import CustomerRef
    from helpline.store.inbound.inbound_state import InboundRow
    from helpline.store.tickets.ticket_refs import TicketRef

    from helpline.workers.inbound.duplicates import Near, Vectors
    from helpline.workers.inbound.inbound_channels import InboundChannel
    from helpline.workers.inbound.threads import ThreadDecision
    from helpline.workers.tickets.triage import Signals


@dataclass
class Outcome:
    """What became of one inbound message, and what the worker does right after the commit."""

    action: str  # created, appended, reopened, duplicate, own_mail, bounce, noop, missing, quarantined, failed
    ticket_id: int | None = None
    outbox_ids: list[int] = field(default_factory=list)  # pending rows for the sender
    claimed: list = field(default_factory=list)  # rows already marked sending, to deliver right after commit
    media_ids: list[int] = field(default_factory=list)  # MMS media to fetch right after commit
    reason: str = ""
    delayed: list[tuple[int, float]] = field(default_factory=list)  # (outbox id, seconds): send after a delay (undo)
    stages: str = ""  # the deciding stages, "name:what" joined by commas (the worker's log line)


@dataclass(frozen=True)
class Decision:
    """What a stage decided. ``what`` is a word or two for the log (never personal data); with an
    ``outcome`` the message is done and the later stages do not run."""

    what: str
    outcome: Outcome | None = None


def done(outcome: Outcome) -> Decision:
    """The message is finished with ``outcome``."""
    return Decision(outcome.action, outcome)


@dataclass
class Prepared:
    """What the pipeline can work out before taking the write lock (``pipeline.prepare``)."""

    env: Envelope
    category: dict | None = None  # computed ahead when the message will most likely open a ticket
    signals: Signals | None = None  # language and sentiment, computed ahead for every customer message
    fingerprint: Fingerprint | None = None  # near-duplicate signature of a message that may open a ticket
    meaning: Vectors | None = None  # sentence vectors for the comparison by meaning, when it will most likely run
    agent_files: list | None = None  # files an agent attached in Slack, fetched and stored (slack_attach)


@dataclass
class Context:
    """One inbound message on its way through the stages, and what they decided so far."""

    row: InboundRow  # the inbound row, locked
    env: Envelope
    settings: Settings
    now: dt.datetime
    channel: InboundChannel  # what differs by channel (workers/inbound/inbound_channels.py)
    pre: Prepared | None = None
    domains: set[str] = field(default_factory=set)  # the support addresses' domains
    quiet: bool = False  # a history import: nothing is sent

    auth: AuthVerdict = UNTRUSTED  # sender_auth
    keys: list[str] = field(default_factory=list)  # the message's own thread keys (thread)
    body_hash: str = ""  # thread
    known: list[str] = field(default_factory=list)  # which of ``keys`` already point at a ticket (thread)
    customer: CustomerRef | None = None  # thread (a known customer), customer (a new one)
    thread: ThreadDecision | None = None  # thread, dedupe (a near-duplicate merge)
    fingerprint: Fingerprint | None = None  # dedupe: near-duplicate signature of a message that opens a ticket
    near: Near | None = None  # dedupe
    signals: Signals | None = None  # triage
    subject: str = ""  # triage: the new ticket's subject, tags and prefixes removed
    category: dict | None = None  # triage: the new ticket's category decision (an event's data)
    priority: PriorityDecision | None = None  # triage: the new ticket's priority with its reasons
    ticket: TicketRef | None = None  # ticket
    message_id: int | None = None  # message
    outcome: Outcome = field(default_factory=lambda: Outcome("appended"))  # built up by the stages

    @property
    def decision(self) -> ThreadDecision:
        """The threading decision (after the ``thread`` stage)."""
        assert self.thread is not None, "the thread stage has not run"
        return self.thread
