"""Read models for the command line and the API: tickets as plain dicts."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, cast

from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.channels import webhook_state
from helpline.store.tickets import routing_state


def _ts(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def ticket_summary(t: m.Ticket, tags: list[str] | None = None) -> dict[str, Any]:
    """``tags``: the ticket's tags when the caller read them for a whole list (else read here)."""
    from helpline.store.tickets.tags import tags_of

    return {
        "number": t.number,
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "category": t.category,
        "team": t.team,
        "assignee": t.assignee,
        "language": t.language,
        "channel": t.channel,
        "customer": {"id": t.customer_id, "name": t.customer.name},
        "support_address": t.support_address,
        "possible_follow_up": t.possible_follow_up,
        "follow_up_of": t.follow_up_of.number if t.follow_up_of_id else None,
        "created_at": _ts(t.created_at),
        "updated_at": _ts(t.updated_at),
        "resolved_at": _ts(t.resolved_at),
        "tags": tags if tags is not None else tags_of(t.id),
    }


def list_tickets(status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    q = m.Ticket.select(m.Ticket, m.Customer).join(m.Customer).order_by(m.Ticket.id.desc()).limit(limit)
    if status:
        q = q.where(m.Ticket.status == status)
    from helpline.store.tickets.tags import tags_by_ticket

    rows = list(q)
    tags = tags_by_ticket([t.id for t in rows])
    return [ticket_summary(t, tags.get(t.id, [])) for t in rows]


class TicketNotFound(LookupError):
    pass


def summary_of(number: str) -> dict[str, Any]:
    """The ticket's summary (``ticket_summary``) by its exact number; raises when there is none."""
    t = m.Ticket.select(m.Ticket, m.Customer).join(m.Customer).where(m.Ticket.number == number).get()
    return ticket_summary(t)


def ticket_id(number: str) -> int:
    """The id of the ticket numbered ``number`` (any case); raises ``TicketNotFound``."""
    row = m.Ticket.get_or_none(m.Ticket.number == number.upper())
    if row is None:
        raise TicketNotFound(f"no ticket {number!r}; `helpline tickets list` shows the numbers")
    return int(row.id)


def ticket_by_number(number: str) -> m.Ticket | None:
    """The ticket numbered ``number`` (any case), or None."""
    return m.Ticket.get_or_none(m.Ticket.number == number.upper())


def number_and_language(ticket_id: int) -> tuple[str, str | None] | None:
    """The ticket's number and language (what a page about it is written in), or None."""
    row = fastsql.fetchone('SELECT number, language FROM "ticket" WHERE id = ?', [ticket_id])
    return (str(row[0]), row[1]) if row else None


def ticket_status(ticket_id: int) -> str | None:
    """The ticket's status, or None when there is no such ticket."""
    row = fastsql.fetchone('SELECT status FROM "ticket" WHERE id = ?', [ticket_id])
    return str(row[0]) if row else None


def customer_tier(customer_id: int) -> str:
    """The customer's tier; "" when there is no such customer."""
    row = m.Customer.get_or_none(m.Customer.id == customer_id)
    return str(row.tier) if row else ""


def ticket_detail(number: str) -> dict[str, Any]:
    t = m.Ticket.select(m.Ticket, m.Customer).join(m.Customer).where(m.Ticket.number == number.upper()).first()
    if t is None:
        raise TicketNotFound(f"no ticket {number!r}; `helpline tickets list` shows the numbers")
    out = ticket_summary(t)
    out["customer"]["identities"] = [
        {"kind": i.kind, "address": i.address} for i in m.Identity.select().where(m.Identity.customer == t.customer_id)
    ]
    out["participants"] = [
        {"kind": p.kind, "address": p.address, "role": p.role}
        for p in m.Participant.select().where(m.Participant.ticket == t).order_by(m.Participant.id)
    ]
    out.update(webhook_state.as_dict(t.id))  # metadata key/values from webhook sources, and those sources
    out.update(routing_state.sla_as_dict(t.id))  # SLA clocks (due, warned, breached), queue, waiting since
    msgs = list(m.Message.select().where(m.Message.ticket == t).order_by(m.Message.id))
    atts: dict[int, list[dict[str, Any]]] = {}
    for a in m.Attachment.select().where(m.Attachment.message.in_([x.id for x in msgs])):
        atts.setdefault(a.message_id, []).append(
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "blob_key": a.blob_key,
                "inline": a.inline,
                "content_id": a.content_id,
            }
        )
    out["messages"] = [
        {
            "id": x.id,
            "direction": x.direction,
            "author_role": x.author_role,
            "author": x.author,
            "channel": x.channel,
            "sender": x.sender,
            "message_id": x.message_id,
            "subject": x.subject,
            "text": x.text,
            "full_text": x.full_text,
            "html": x.html,
            "raw_blob_key": x.raw_blob_key,
            "auth": x.auth,
            "warnings": x.warnings or [],
            "delivery_status": x.delivery_status,
            "created_at": _ts(x.created_at),
            "attachments": atts.get(x.id, []),
        }
        for x in msgs
    ]
    out["events"] = [
        {"kind": e.kind, "actor": e.actor, "data": e.data, "created_at": _ts(e.created_at)}
        for e in m.Event.select().where(m.Event.ticket == t).order_by(m.Event.id)
    ]
    out["outbox"] = [
        {
            "id": o.id,
            "kind": o.kind,
            "channel": o.channel,
            "recipient": o.recipient,
            "status": o.status,
            "attempts": o.attempts,
            "last_error": o.last_error,
            "provider_id": o.provider_id,
        }
        for o in m.Outbox.select().where(m.Outbox.ticket == t).order_by(m.Outbox.id)
    ]
    return out


def inbound_counts() -> dict[str, int]:
    from peewee import fn

    rows = m.Inbound.select(m.Inbound.status, fn.COUNT(m.Inbound.id)).group_by(m.Inbound.status).tuples()
    return dict(cast(Iterable[tuple[str, int]], rows))


_UNSENT = (m.OutboxStatus.PENDING, m.OutboxStatus.SENDING, m.OutboxStatus.UNKNOWN)


def outbox_backlog() -> dict[str, int]:
    """Outbox rows not yet sent, by status (the ingest daemon's live metrics)."""
    from peewee import fn

    rows = (
        m.Outbox.select(m.Outbox.status, fn.COUNT(m.Outbox.id))
        .where(m.Outbox.status.in_(_UNSENT))
        .group_by(m.Outbox.status)
        .tuples()
    )
    return {str(status): int(n) for status, n in cast(Iterable[tuple[str, int]], rows)}


def outbox_backlog_by_channel() -> dict[tuple[str, str], int]:
    """Outbox rows not yet sent, by (channel, status)."""
    from peewee import fn

    rows = (
        m.Outbox.select(m.Outbox.channel, m.Outbox.status, fn.COUNT(m.Outbox.id))
        .where(m.Outbox.status.in_(_UNSENT))
        .group_by(m.Outbox.channel, m.Outbox.status)
        .tuples()
    )
    return {(str(channel), str(status)): int(n) for channel, status, n in cast(Iterable[tuple[str, str, int]], rows)}
