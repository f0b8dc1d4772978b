"""Which customer an operator means: an id, or one of the customer's addresses."""

from __future__ import annotations

from helpline.store.tickets.customers import CustomerError
from helpline.store import models as m
from helpline.store.tuple_rows import tuples


def resolve(ref: str) -> int:
    """The customer id for ``ref`` (a number, an email address, a phone number or a Slack user id).

    Raises ``CustomerError`` naming what was looked for when nobody matches,
    without echoing it into any log."""
    ref = (ref or "").strip()
    if not ref:
        raise CustomerError("give a customer id or one of the customer's addresses")
    if ref.isdigit():
        if m.Customer.get_or_none(m.Customer.id == int(ref)) is None:
            raise CustomerError(f"no customer {ref}; `helpline customers list --search TEXT` finds one")
        return int(ref)
    for candidate in dict.fromkeys((ref, ref.lower())):
        row = m.Identity.get_or_none(m.Identity.address == candidate)
        if row is not None:
            return int(row.customer_id)
    raise CustomerError(
        "no customer has that address (erased already, or never known); "
        "`helpline customers list --search TEXT` finds one"
    )


def ticket_ids(customer_id: int) -> list[int]:
    return [
        t for (t,) in tuples(m.Ticket.select(m.Ticket.id).where(m.Ticket.customer == customer_id).order_by(m.Ticket.id))
    ]
