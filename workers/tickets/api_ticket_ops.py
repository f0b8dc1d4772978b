"""What the ticket API does to a ticket, inside the caller's transaction.

Status, priority, assignment, transfer and merge go through
``workers.ticket_ops`` (the lifecycle table and agents' loads are enforced
there and only there); this module adds what the API needs on top: a reply to
the customer on the ticket's own channel, an internal note, and a category
correction recorded as a labelled example (``router.category.label_event``,
read by ``helpline model train --from-tickets``). Every change is an audit
event whose actor is the API key (``api:<key name>``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from helpline.router.categories import category as category_rules
from helpline.store.tickets import ticket_notes
from helpline.store.config import Settings

from helpline.store.inbound import audit_events
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import replies
from helpline.workers.tickets import ticket_ops


ReplyNotPossible = replies.ReplyNotPossible


@dataclass
class Reply:
    message_id: int
    channel: str
    recipient: str
    outbox_ids: list[int] = field(default_factory=list)
    repeated: bool = False  # the same Idempotency-Key again: nothing new was written


def reply(
    ticket_id: int,
    text: str,
    *,
    author: str,
    actor: str,
    key: str,
    settings: Settings,
    now: dt.datetime,
    request: str = "",
) -> Reply:
    """An agent's public answer, sent where the customer last wrote from (a contact form's customer by email).

    ``key`` makes the outbox row unique: a client retrying with the same
    Idempotency-Key never sends the customer the same answer twice. ``request``
    (``replies.request_hash``) is kept with it: the key again with another
    text raises ``replies.KeyReused``."""
    done, ticket = replies.prior_or_ticket(key, ticket_id, request)  # KeyReused: the key with another answer
    if done is not None:
        return Reply(done[0], done[1], done[2], [], repeated=True)
    r = replies.compose(
        ticket_id,
        text,
        agent=author,
        actor=actor,
        key=key,
        settings=settings,
        now=now,
        audit={"via": "api"},
        webhook=True,
        payload={replies.REQUEST_HASH: request} if request else None,
    )
    if r.reason == replies.NO_CALLBACK or (r.channel == "webhook" and not r.event_ids):  # raising rolls back
        raise ReplyNotPossible(
            f"{ticket.number} came from a webhook source without a callback URL "
            "(HELPLINE_WEBHOOK_CALLBACKS); its customer cannot be answered from here"
        )
    if not r.channel:
        raise ReplyNotPossible(
            f"{ticket.number}'s customer wrote on {r.wrote_on or 'no channel'}, which has no way "
            "back for an agent's reply; add an internal note instead"
        )
    ids = ([r.outbox_id] if r.outbox_id is not None else []) + r.event_ids
    return Reply(r.message_id, r.channel, r.recipient, ids)


def note(ticket_id: int, text: str, *, author: str, actor: str, now: dt.datetime) -> int:
    """An internal note: stored and audited, never sent to the customer."""
    msg_id = ticket_notes.add_note(ticket_id, author=author, text=text, channel="api", now=now)
    audit_events.event(ticket_id, "note_added", {"message": msg_id, "via": "api"}, actor=actor, now=now)
    ticket_refs.update(ticket_id, updated_at=now)
    return msg_id


def set_category(t: ticket_ops.TicketState, category: str, *, actor: str, now: dt.datetime, via: str = "api") -> None:
    """An agent's verdict on the category: a confirmation or a correction, both labelled examples for
    training. The API and Slack's category menu (``via``) both come here."""
    kind, data = category_rules.label_event(category, t.category)
    if t.category != category:
        ticket_refs.update(t.id, category=category, updated_at=now)
        t.category = category
    audit_events.event(t.id, kind, {**data, "via": via}, actor=actor, now=now)


def change(
    t: ticket_ops.TicketState,
    changes: dict[str, Any],
    *,
    actor: str,
    settings: Settings,
    now: dt.datetime,
    reason: str = "",
) -> None:
    """Apply a PATCH: category, team, priority and assignee first, the status last (so a ticket
    can be re-prioritised and resolved in one request). Raises before writing on the first refusal;
    the caller's transaction then drops whatever an earlier field wrote."""
    why = reason or "changed through the API"
    if "category" in changes:
        set_category(t, changes["category"], actor=actor, now=now)
    if changes.get("team") and changes["team"] != t.team:
        ticket_ops.transfer(t, changes["team"], now=now, settings=settings, actor=actor, reason=why)
    if "priority" in changes:
        ticket_ops.set_priority(t, changes["priority"], now=now, settings=settings, actor=actor, reason=why)
    if "assignee" in changes:
        if changes["assignee"] is None:
            ticket_ops.unassign(t, now=now, actor=actor, reason=why)
        else:
            ticket_ops.assign_to(
                t,
                changes["assignee"],
                now=now,
                settings=settings,
                actor=actor,
                reason=why,
                force=bool(changes.get("force")),
            )
    if "status" in changes:
        if t.status == "spam" and changes["status"] == "new":  # released: the whole normal flow, not a flag
            from helpline.workers.tickets import spam_stage

            spam_stage.release(t, now=now, settings=settings, actor=actor)
            return
        ticket_ops.change_status(t, changes["status"], now=now, settings=settings, actor=actor, reason=why)
