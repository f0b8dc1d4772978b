"""Incidents: many customers reporting one problem become one parent with its tickets.

Grouping happens a moment after the pipeline, in ``workers.incident_grouper``.
``reply`` is the fan-out of one agent answer: an outbound message and an
outbox row on each open child ticket, on that ticket's own channel, composed
by ``workers.replies`` as an answer from Slack or the API is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from helpline.store.tickets import similarity_state as state
from helpline.store.config import Settings

from helpline.store.inbound import audit_events
from helpline.workers.tickets import replies


# ---- one answer to every ticket of the incident ----------------------------------------------
@dataclass
class FanOut:
    sent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)


def reply_one(
    ticket_id: int,
    text: str,
    *,
    agent: str,
    actor: str,
    key: str,
    settings: Settings,
    now: dt.datetime,
    request: str = "",
) -> tuple[str, str, int | None]:
    """Answer one ticket's customer on their channel: (channel, recipient, outbox id); channel "" and the
    reason when it cannot be answered. An answer already queued under ``key`` is not queued again."""
    done = replies.queued(key, ticket_id, request)  # KeyReused: the same key for another answer
    if done is not None:
        return done[1], done[2], None
    r = replies.compose(
        ticket_id,
        text,
        agent=agent,
        actor=actor,
        key=key,
        settings=settings,
        now=now,
        audit={"via": "incident"},
        payload={replies.REQUEST_HASH: request} if request else None,
    )
    if r.channel:
        return r.channel, r.recipient, r.outbox_id
    if r.reason == replies.NO_CUSTOMER:
        return "", r.reason, None
    return "", f"customers who wrote by {r.wrote_on or 'no channel'} cannot be answered from an incident", None


def reply(
    incident_id: int,
    text: str,
    *,
    agent: str,
    actor: str,
    reply_key: str,
    settings: Settings,
    now: dt.datetime,
    request: str = "",
) -> FanOut:
    """The same answer to every open ticket of the incident, each on its own channel.

    ``reply_key`` names this answer: running the same reply again (a retried
    command) enqueues nothing twice. Merged, closed and resolved children are
    skipped and listed."""
    if not text.strip():
        raise ValueError("the reply text is empty")
    if state.get_incident(incident_id) is None:
        raise LookupError(f"no incident {state.incident_number(incident_id)}; `helpline incidents list` shows them")
    out = FanOut()
    for child in state.incident_tickets(incident_id):
        if child["status"] not in state.ACTIVE:
            out.skipped.append({"ticket": child["ticket"], "reason": f"the ticket is {child['status']}"})
            continue
        channel, to, row_id = reply_one(
            child["id"],
            text,
            agent=agent,
            actor=actor,
            key=f"incident-reply:{reply_key}:{child['id']}",
            settings=settings,
            now=now,
            request=request,
        )
        if not channel:
            out.skipped.append({"ticket": child["ticket"], "reason": to})
            continue
        out.sent.append({"ticket": child["ticket"], "channel": channel, "to": to})
        if row_id is not None:
            out.outbox_ids.append(row_id)
    audit_events.event(
        None,
        "incident_replied",
        {
            "incident": state.incident_number(incident_id),
            "key": reply_key,
            "tickets": len(out.sent),
            "skipped": len(out.skipped),
        },
        actor=actor,
        now=now,
    )
    return out
