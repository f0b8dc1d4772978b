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
import json
from dataclasses import dataclass, field
from typing import Any

from helpline.notifier import loops, outbox, webhook_events
from helpline.notifier.agent_reply import render_agent_reply
from helpline.notifier.message_ids import make_message_id
from helpline.router import category as category_rules
from helpline.store import fastsql, signing
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from . import persist, routing_stage, ticket_ops


class ReplyNotPossible(ticket_ops.TicketOpError):
    """The ticket's customer cannot be reached on its channel (nothing was written)."""


@dataclass
class Reply:
    message_id: int
    channel: str
    recipient: str
    outbox_ids: list[int] = field(default_factory=list)
    repeated: bool = False  # the same Idempotency-Key again: nothing new was written


def _customer_message(ticket_id: int) -> tuple[str, str, Envelope | None] | None:
    """(channel, sender, envelope) of the customer's newest message on the ticket."""
    row = fastsql.fetchone("SELECT m.channel, m.sender, i.envelope FROM \"message\" m LEFT JOIN \"inbound\" i "
                           "ON i.id = m.inbound_id WHERE m.ticket_id = ? AND m.direction = 'in' "
                           "AND m.author_role = 'customer' ORDER BY m.id DESC LIMIT 1", [ticket_id])
    if row is None:
        return None
    env = Envelope.from_dict(json.loads(row[2])) if row[2] else None
    return row[0], row[1], env


def _message(ticket_id: int, *, direction: str, author: str, text: str, channel: str, sender: str,
             now: dt.datetime, message_id: str = "", subject: str = "") -> int:
    return fastsql.insert("message", {
        "ticket_id": ticket_id, "inbound_id": None, "direction": direction, "author_role": "agent",
        "author": author[:255], "channel": channel, "external_id": "", "message_id": message_id,
        "sender": sender, "subject": subject[:1000], "text": text, "full_text": text, "html": "", "body_hash": "",
        "raw_blob_key": "", "delivery_status": "", "created_at": now,
    })


def reply(ticket_id: int, text: str, *, author: str, actor: str, key: str, settings: Settings,
          now: dt.datetime) -> Reply:
    """An agent's public answer, sent where the customer last wrote from (a contact form's customer by email).

    ``key`` makes the outbox row unique: a client retrying with the same
    Idempotency-Key never sends the customer the same answer twice."""
    done = fastsql.fetchone('SELECT out_message_id, channel, recipient FROM "outbox" WHERE unique_key = ? '
                            'AND ticket_id = ?', [key, ticket_id])
    if done is not None and done[0] is not None:  # a retry of a reply already made
        return Reply(done[0], done[1], done[2], [], repeated=True)
    ticket = persist.get_ticket(ticket_id)
    if ticket.status in ("closed", "merged"):
        raise ReplyNotPossible(f"{ticket.number} is {ticket.status}; reply on the ticket it became or a new one")
    latest = _customer_message(ticket_id)
    channel = latest[0] if latest else ""
    channel = "email" if channel == "form" else channel
    env = latest[2] if latest else None
    mid = ""
    if channel == "email" and latest is not None:
        recipient = loops.reply_address(env) if env else latest[1]
        mid = make_message_id(settings.mail_domain, ticket.number)
        reply_to = ""
        if settings.secret_key:
            local, _, domain = ticket.support_address.partition("@")
            reply_to = f"{local}+{signing.reply_token(settings.secret_key, ticket.id)}@{domain}"
        thread = env.thread if env else None
        payload = render_agent_reply(
            ticket_number=ticket.number, subject=ticket.subject, agent_name=author, text=text,
            support_address=ticket.support_address, recipient=recipient,
            in_reply_to=f"<{thread.message_id}>" if thread and thread.message_id else "",
            references=[f"<{r}>" for r in thread.references] if thread else [], message_id=mid, reply_to=reply_to)
        mid = mid.strip("<>").lower()
        out_id = _message(ticket_id, direction="out", author=author, text=payload["text"], channel="email",
                          sender=ticket.support_address, now=now, message_id=mid, subject=payload["subject"])
        persist.add_thread_keys(ticket_id, ["mid:" + mid])
    elif channel == "sms" and latest is not None:
        from helpline.notifier.sms_sender import sms_payload

        recipient = latest[1]
        from_number = str(env.metadata.get("to") or "") if env else ""
        payload = sms_payload(recipient, text, ref=key, from_number=from_number)
        out_id = _message(ticket_id, direction="out", author=author, text=text, channel="sms", sender=from_number,
                          now=now)
    elif channel == "slack" and env is not None and env.thread.conversation_id:
        slack_channel, _, root = env.thread.conversation_id.partition(":")
        recipient = slack_channel
        payload = {"op": "customer_reply", "channel": slack_channel, "thread_ts": root, "text": text,
                   "agent": author}
        out_id = _message(ticket_id, direction="out", author=author, text=text, channel="slack",
                          sender=slack_channel, now=now)
    elif channel == "webhook":
        # The source's own app shows the answer: it hears of it as a ticket.replied event.
        out_id = _message(ticket_id, direction="out", author=author, text=text, channel="webhook", sender="",
                          now=now)
        ids = webhook_events.emit(ticket_id, webhook_events.REPLIED, key, webhook_events.message_data(
            out_id, "webhook", "agent", ticket.subject, text, 0), settings, now)
        if not ids:
            raise ReplyNotPossible(f"{ticket.number} came from a webhook source without a callback URL "
                                   "(HELPLINE_WEBHOOK_CALLBACKS); its customer cannot be answered from here")
        return _replied(ticket_id, Reply(out_id, "webhook", "", ids), actor=actor, settings=settings, now=now)
    else:
        raise ReplyNotPossible(f"{ticket.number}'s customer wrote on {channel or 'no channel'}, which has no way "
                               "back for an agent's reply; add an internal note instead")
    row = outbox.enqueue(channel=channel, kind="reply", recipient=recipient, payload=payload, unique_key=key,
                         ticket=ticket_id, out_message=out_id, message_id=mid)
    ids = [row.id] if row is not None else []
    ids += webhook_events.emit(ticket_id, webhook_events.REPLIED, key, webhook_events.message_data(
        out_id, channel, "agent", ticket.subject, text, 0), settings, now)
    return _replied(ticket_id, Reply(out_id, channel, recipient, ids), actor=actor, settings=settings, now=now)


def _replied(ticket_id: int, r: Reply, *, actor: str, settings: Settings, now: dt.datetime) -> Reply:
    persist.event(ticket_id, "agent_replied", {"message": r.message_id, "channel": r.channel, "to": r.recipient,
                                               "via": "api"}, actor=actor, now=now)
    routing_stage.on_agent_reply(ticket_id, actor, settings, now)  # response clocks stop; a new ticket opens
    persist.update_ticket(ticket_id, updated_at=now)
    return r


def note(ticket_id: int, text: str, *, author: str, actor: str, now: dt.datetime) -> int:
    """An internal note: stored and audited, never sent to the customer."""
    msg_id = _message(ticket_id, direction="note", author=author, text=text, channel="api", sender="", now=now)
    persist.event(ticket_id, "note_added", {"message": msg_id, "via": "api"}, actor=actor, now=now)
    persist.update_ticket(ticket_id, updated_at=now)
    return msg_id


def set_category(t: ticket_ops.TicketState, category: str, *, actor: str, now: dt.datetime) -> None:
    """An agent's verdict on the category: a confirmation or a correction, both labelled examples for training."""
    kind, data = category_rules.label_event(category, t.category)
    if t.category != category:
        persist.update_ticket(t.id, category=category, updated_at=now)
        t.category = category
    persist.event(t.id, kind, {**data, "via": "api"}, actor=actor, now=now)


def change(t: ticket_ops.TicketState, changes: dict[str, Any], *, actor: str, settings: Settings,
           now: dt.datetime, reason: str = "") -> None:
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
            ticket_ops.assign_to(t, changes["assignee"], now=now, settings=settings, actor=actor, reason=why,
                                 force=bool(changes.get("force")))
    if "status" in changes:
        ticket_ops.change_status(t, changes["status"], now=now, settings=settings, actor=actor, reason=why)
