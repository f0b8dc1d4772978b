"""Reads and writes of the pipeline, all inside the caller's transaction."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

import peewee as pw

from helpline.store import models as m
from helpline.store.db import database, is_sqlite
from helpline.store.envelope import Envelope
from helpline.store.numbers import next_ticket_number

from .threads import Candidate


def lock_inbound(inbound_id: int) -> m.Inbound | None:
    q = m.Inbound.select().where(m.Inbound.id == inbound_id)
    if not is_sqlite():
        q = q.for_update()
    return q.first()


def lock_conversation(keys: Iterable[str]) -> None:
    """Serialise workers on one conversation (PostgreSQL; SQLite's write lock already does)."""
    if is_sqlite():
        return
    for key in sorted(set(keys)):
        database().execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))


def customer_addresses(customer_id: int) -> set[str]:
    return {i.address for i in m.Identity.select(m.Identity.address).where(m.Identity.customer == customer_id)}


def find_customer(kind: str, address: str) -> m.Customer | None:
    ident = m.Identity.select().where((m.Identity.kind == kind) & (m.Identity.address == address)).first()
    return ident.customer if ident else None


def find_or_create_customer(kind: str, address: str, name: str) -> m.Customer:
    found = find_customer(kind, address)
    if found:
        if name and not found.name:
            found.name = name
            found.save(only=[m.Customer.name])
        return found
    customer = m.Customer.create(name=name)
    m.Identity.create(customer=customer, kind=kind, address=address)
    return customer


def participants_of(ticket: m.Ticket) -> frozenset[str]:
    rows = m.Participant.select(m.Participant.address).where(m.Participant.ticket == ticket)
    return frozenset({r.address for r in rows} | customer_addresses(ticket.customer_id))


def _candidate(ticket: m.Ticket, via: str) -> Candidate:
    return Candidate(ticket.id, ticket.number, ticket.status, via, ticket.resolved_at, participants_of(ticket))


def candidates(keys: list[str], ticket_ref: str, token_ticket_id: int | None) -> tuple[list[Candidate], list[str]]:
    """Tickets the evidence points at, and which of ``keys`` are already known."""
    found: list[Candidate] = []
    known: list[str] = []
    if keys:
        rows = list(m.ThreadKey.select(m.ThreadKey, m.Ticket).join(m.Ticket).where(m.ThreadKey.key.in_(keys)))
        by_key = {r.key: r for r in rows}
        known = [k for k in keys if k in by_key]
        seen: set[int] = set()
        for k in known:  # keys come most specific first
            t = by_key[k].ticket
            if t.id not in seen:
                seen.add(t.id)
                found.append(_candidate(t, "thread_index" if k.startswith("tix:") else "conversation" if k.startswith("conv:") else "references"))
    if token_ticket_id is not None:
        t = m.Ticket.get_or_none(m.Ticket.id == token_ticket_id)
        if t:
            found.append(_candidate(t, "reply_token"))
    if ticket_ref:
        t = m.Ticket.get_or_none(m.Ticket.number == ticket_ref)
        if t:
            found.append(_candidate(t, "ticket_tag"))
    return found, known


def add_thread_keys(ticket: m.Ticket, keys: Iterable[str], *, claim: Iterable[str] = (), repoint: bool = False) -> None:
    """Point ``keys`` at the ticket.

    Keys in ``claim`` were free when threading looked: inserting them plainly
    makes a concurrent worker that claimed one first win, and this transaction
    fail with IntegrityError and run again (then finding that ticket). Other
    keys are re-pointed (a follow-up of a closed ticket takes over its thread)
    or left where they are.
    """
    claim = set(claim)
    for key in dict.fromkeys(keys):
        q = m.ThreadKey.insert(key=key, ticket=ticket)
        if key in claim:
            q.execute()
        elif repoint:
            q.on_conflict(conflict_target=[m.ThreadKey.key], update={m.ThreadKey.ticket: ticket.id}).execute()
        else:
            q.on_conflict_ignore().execute()


def add_participants(ticket: m.Ticket, addresses: Iterable[tuple[str, str, str]]) -> None:
    for kind, address, role in addresses:
        if address:
            m.Participant.insert(ticket=ticket, kind=kind, address=address, role=role).on_conflict_ignore().execute()


def create_ticket(env: Envelope, customer: m.Customer, subject: str, priority: str, support_address: str,
                  now: dt.datetime, follow_up_of: int | None, possible: bool) -> m.Ticket:
    return m.Ticket.create(
        number=next_ticket_number(now), subject=subject[:1000], status=m.TicketStatus.NEW, priority=priority,
        channel=env.channel, customer=customer, support_address=support_address, follow_up_of=follow_up_of,
        possible_follow_up=possible, created_at=now, updated_at=now, last_customer_at=now,
    )


def add_message(ticket: m.Ticket, inbound: m.Inbound | None, env: Envelope, body_hash: str, now: dt.datetime) -> m.Message:
    msg = m.Message.create(
        ticket=ticket, inbound=inbound, direction="in", author_role=env.author_role, author=env.sender.name,
        channel=env.channel, external_id=env.external_id[:998], message_id=env.thread.message_id.lower()[:998],
        sender=env.sender.address, subject=env.subject[:1000], text=env.text, full_text=env.full_text,
        html=env.html, body_hash=body_hash, raw_blob_key=env.raw_blob_key, auth=env.auth or None,
        warnings=env.warnings or None, created_at=now,
    )
    if env.attachments:
        m.Attachment.insert_many([
            dict(message=msg.id, filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256,
                 blob_key=a.blob_key, inline=a.inline, content_id=a.content_id)
            for a in env.attachments
        ]).execute()
    return msg


def event(ticket: m.Ticket | None, kind: str, data: dict | None = None, actor: str = "system",
          now: dt.datetime | None = None) -> None:
    m.Event.insert(ticket=ticket, kind=kind, data=data, actor=actor, created_at=now or m.utcnow()).execute()


def recent_duplicate(sender: str, body_hash: str, since: dt.datetime) -> m.Message | None:
    if not body_hash or not sender:
        return None
    return (m.Message.select().where((m.Message.sender == sender) & (m.Message.body_hash == body_hash)
                                     & (m.Message.created_at >= since) & (m.Message.direction == "in"))
            .order_by(m.Message.created_at.desc()).first())


def is_unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, pw.IntegrityError)
