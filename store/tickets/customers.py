"""Customers and their identities, for the operator's ``helpline customers`` commands.

Linking an identity (an email address, a phone number, a Slack user) to a
customer is an agent's decision, never an inference: once linked, that
address's messages are the customer's, it counts as a participant of the
customer's tickets, and near-duplicates across channels are found. An
identity already belonging to another customer is refused rather than moved,
since moving it would hand that person's conversations to someone else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.db import run_tx


class CustomerError(ValueError):
    """The change cannot be made; the message says why and what to do."""


@dataclass
class CustomerView:
    id: int
    name: str
    tier: str
    identities: list[tuple[str, str]] = field(default_factory=list)
    tickets: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tier": self.tier,
            "tickets": self.tickets,
            "identities": [{"kind": k, "address": a} for k, a in self.identities],
        }


def _view(c: m.Customer) -> CustomerView:
    ids = [(i.kind, i.address) for i in m.Identity.select().where(m.Identity.customer == c.id).order_by(m.Identity.id)]
    return CustomerView(c.id, c.name, c.tier, ids, m.Ticket.select().where(m.Ticket.customer == c.id).count())


def get(customer_id: int) -> CustomerView:
    c = m.Customer.get_or_none(m.Customer.id == customer_id)
    if c is None:
        raise CustomerError(f"no customer {customer_id}; `helpline customers list --search TEXT` finds one")
    return _view(c)


def search(text: str = "", limit: int = 50) -> list[CustomerView]:
    """Customers whose name or any identity contains ``text`` (all when empty), newest first."""
    q = m.Customer.select().order_by(m.Customer.id.desc()).limit(limit)
    if text:
        like = f"%{text.lower()}%"
        q = q.where(
            pw.fn.LOWER(m.Customer.name) ** like
            | m.Customer.id.in_(m.Identity.select(m.Identity.customer).where(pw.fn.LOWER(m.Identity.address) ** like))
        )
    return [_view(c) for c in q]


def name_of(customer_id: int) -> str | None:
    """The customer's name (inside the caller's transaction); None when there is no such customer."""
    row = fastsql.fetchone('SELECT name FROM "customer" WHERE id = ?', [customer_id])
    return row[0] if row else None


def link_vouched(customer_id: int, kind: str, address: str, now: dt.datetime) -> int | None:
    """Link an identity a signed source vouched for, inside the pipeline's transaction; the id of the other
    customer it already belongs to (left there: moving it is an agent's decision), else None."""
    owner = fastsql.fetchone('SELECT customer_id FROM "identity" WHERE kind = ? AND address = ?', [kind, address])
    if owner is None:
        fastsql.insert(
            "identity",
            {"customer_id": customer_id, "kind": kind, "address": address, "created_at": now},
            on_conflict="ON CONFLICT DO NOTHING",
        )
        return None
    return None if owner[0] == customer_id else int(owner[0])


def link(
    customer_id: int, kind: str, address: str, *, actor: str, reason: str = "", now: dt.datetime | None = None
) -> str:
    """Attach ``kind:address`` to the customer; "linked", or "already" when it is theirs."""
    now = now or m.utcnow()

    def tx() -> str:
        if m.Customer.get_or_none(m.Customer.id == customer_id) is None:
            raise CustomerError(f"no customer {customer_id}")
        owner = m.Identity.get_or_none((m.Identity.kind == kind) & (m.Identity.address == address))
        if owner is not None and owner.customer_id == customer_id:
            return "already"
        if owner is not None:
            raise CustomerError(
                f"{kind} {address} belongs to customer {owner.customer_id}; it is not moved "
                "(that would give them this customer's conversations); unlink it there first"
            )
        m.Identity.create(customer=customer_id, kind=kind, address=address, created_at=now)
        m.Event.create(
            ticket=None,
            actor=actor,
            kind="identity_linked",
            created_at=now,
            data={"customer": customer_id, "kind": kind, "address": address, "reason": reason},
        )
        return "linked"

    return run_tx(tx)


def unlink(
    customer_id: int, kind: str, address: str, *, actor: str, reason: str = "", now: dt.datetime | None = None
) -> None:
    now = now or m.utcnow()

    def tx() -> None:
        row = m.Identity.get_or_none(
            (m.Identity.kind == kind) & (m.Identity.address == address) & (m.Identity.customer == customer_id)
        )
        if row is None:
            raise CustomerError(f"customer {customer_id} has no {kind} identity {address}")
        if m.Identity.select().where(m.Identity.customer == customer_id).count() == 1:
            raise CustomerError(f"{kind} {address} is customer {customer_id}'s only identity; it stays")
        row.delete_instance()
        m.Event.create(
            ticket=None,
            actor=actor,
            kind="identity_unlinked",
            created_at=now,
            data={"customer": customer_id, "kind": kind, "address": address, "reason": reason},
        )

    run_tx(tx)
