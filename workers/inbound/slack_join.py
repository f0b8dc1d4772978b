"""A Slack customer's new top-level message joins their open ticket, unless it is clearly a new topic.

In Slack people do not reply in threads: "also, the export is empty" arrives
as a new top-level message a minute after "invoices fail to load". Each
top-level message is its own conversation (``conv:slack:CHANNEL:TS``), so
without this every such line would open a ticket. Within
``HELPLINE_SLACK_JOIN_WINDOW_S`` of the customer's last message on their most
recent open Slack ticket, the message joins that ticket (and its conversation
key with it, so replies in its thread follow).

"Clearly a new topic" needs strong evidence, because a follow-up usually
shares few words with the first message (near-duplicate similarity is the
wrong question: a follow-up is not a repetition). Only two things count:

- both texts name reference numbers and none in common (order #4711, then
  invoice #9001): different things, however close in time;
- the new message is a substantial request of its own (at least
  ``NEW_TOPIC_MIN_FEATURES`` distinct words) and shares essentially no words
  with the ticket's first message: estimated Jaccard below
  ``NEW_TOPIC_MAX_SIMILARITY`` (0.05, the estimate's standard error, i.e.
  indistinguishable from no overlap at all).

Short lines ("any update?", "also on mobile") always join. Without a
fingerprint on either side (similarity off, a first message too short to
compare) the window alone decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from helpline.router import similarity as sim
from helpline.store.views import slack_rows
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from helpline.workers.inbound.threads import ThreadDecision

NEW_TOPIC_MIN_FEATURES = 8
NEW_TOPIC_MAX_SIMILARITY = 0.05


@dataclass(frozen=True)
class OpenTicket:
    ticket_id: int
    number: str
    signature: bytes | None
    refs: frozenset[str]


def new_topic(fp: sim.Fingerprint | None, ticket: OpenTicket) -> str:
    """Why the text is clearly not about ``ticket`` ("" when it may well be); a plain function."""
    if fp is None or ticket.signature is None:
        return ""
    if sim.refs_conflict(fp.refs, ticket.refs):
        return f"names {', '.join(sorted(fp.refs))}, {ticket.number} names {', '.join(sorted(ticket.refs))}"
    score = sim.similarity(fp.signature, ticket.signature)
    if fp.size >= NEW_TOPIC_MIN_FEATURES and score < NEW_TOPIC_MAX_SIMILARITY:
        return f"a request of its own sharing no words with {ticket.number} (similarity {score:.2f})"
    return ""


def latest_open(customer_id: int, since: dt.datetime) -> OpenTicket | None:
    """The customer's most recent active Slack ticket they wrote on since ``since``, with its fingerprint."""
    row = slack_rows.latest_open_ticket(customer_id, since)
    if row is None:
        return None
    ticket_id, number, signature, refs = row
    return OpenTicket(ticket_id, number, signature, sim.parse_refs(refs))


def join_open(
    env: Envelope, customer_id: int, fp: sim.Fingerprint | None, settings: Settings, now: dt.datetime
) -> ThreadDecision | None:
    """Append to the customer's open ticket, a new ticket that says why not, or None (nothing to join)."""
    if env.channel != "slack" or env.author_role != "customer" or settings.slack_join_window_s <= 0:
        return None
    if env.thread.slack_thread:  # a reply in a thread is threaded by its conversation key already
        return None
    ticket = latest_open(customer_id, now - dt.timedelta(seconds=settings.slack_join_window_s))
    if ticket is None:
        return None
    why = new_topic(fp, ticket)
    if why:
        return ThreadDecision("new", None, f"new Slack topic, not joined to {ticket.number}: {why}")
    return ThreadDecision(
        "append",
        ticket.ticket_id,
        f"new top-level Slack message within {settings.slack_join_window_s}s of the customer's last on {ticket.number}",
    )
