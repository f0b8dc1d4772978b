"""Legal holds: a customer whose data must be kept is neither erased nor touched by retention."""

from __future__ import annotations

import datetime as dt

from helpline.store import models as m
from helpline.store.tickets.customers import CustomerError
from helpline.store.db import run_tx
from helpline.store.tuple_rows import tuples
from helpline.store.lifecycle.schema import LegalHold


def is_held(customer_id: int) -> bool:
    return LegalHold.select().where(LegalHold.customer_id == customer_id).exists()


def held_customers() -> set[int]:
    return {c for (c,) in tuples(LegalHold.select(LegalHold.customer_id))}


def set_hold(customer_id: int, on: bool, *, actor: str, reason: str = "", now: dt.datetime | None = None) -> str:
    """ "set", "released", or "unchanged"; audited (``legal_hold_set`` / ``legal_hold_released``)."""
    now = now or m.utcnow()

    def tx() -> str:
        if m.Customer.get_or_none(m.Customer.id == customer_id) is None:
            raise CustomerError(f"no customer {customer_id}")
        held = is_held(customer_id)
        if held == on:
            return "unchanged"
        if on:
            LegalHold.create(customer_id=customer_id, actor=actor, reason=reason, set_at=now)
        else:
            LegalHold.delete().where(LegalHold.customer_id == customer_id).execute()
        m.Event.create(
            ticket=None,
            actor=actor,
            kind="legal_hold_set" if on else "legal_hold_released",
            created_at=now,
            data={"customer": customer_id, "reason": reason},
        )
        return "set" if on else "released"

    return run_tx(tx)
