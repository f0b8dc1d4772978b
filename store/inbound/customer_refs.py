"""The pipeline's customers: who an identity (address, number, Slack user) belongs to, and a new customer.

Plain SQL through ``fastsql`` (the hot path), inside the caller's transaction. The operator's commands on
customers are in ``customers.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from helpline.store import fastsql as sql


@dataclass
class CustomerRef:
    id: int
    name: str


def find(kind: str, address: str) -> CustomerRef | None:
    row = sql.fetchone(
        'SELECT c.id, c.name FROM "identity" i JOIN "customer" c ON c.id = i.customer_id '
        "WHERE i.kind = ? AND i.address = ?",
        [kind, address],
    )
    return CustomerRef(row[0], row[1]) if row else None


def addresses(customer_id: int) -> set[str]:
    return {r[0] for r in sql.fetchall('SELECT address FROM "identity" WHERE customer_id = ?', [customer_id])}


def create(kind: str, address: str, name: str, now: dt.datetime) -> CustomerRef:
    cid = sql.insert("customer", {"name": name, "tier": "standard", "created_at": now})
    if address:
        sql.insert("identity", {"customer_id": cid, "kind": kind, "address": address, "created_at": now})
    return CustomerRef(cid, name)
