"""The pipeline's customers: who an identity (address, number, Slack user) belongs to, and a new customer.

Plain SQL through ``fastsql`` (the hot path), inside the caller's transaction. The operator's commands on
customers are in ``customers.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from helpline.store import batch_cache
from helpline.store import fastsql as sql


@dataclass
class CustomerRef:
    id: int
    name: str


def find(kind: str, address: str) -> CustomerRef | None:
    cache = batch_cache.current()
    if cache is not None:
        if (kind, address) not in cache.customers:
            read_identities(cache, kind, [address])
        got = cache.customers[(kind, address)]
        return CustomerRef(*got) if got else None
    row = sql.fetchone(
        'SELECT c.id, c.name FROM "identity" i JOIN "customer" c ON c.id = i.customer_id '
        "WHERE i.kind = ? AND i.address = ?",
        [kind, address],
    )
    return CustomerRef(row[0], row[1]) if row else None


def read_identities(cache: batch_cache.BatchCache, kind: str, addresses: list[str]) -> None:
    """The customers of ``addresses`` into the batch's cache, in statements of at most 500 addresses."""
    todo = list(dict.fromkeys(addresses))
    for i in range(0, len(todo), 500):
        part = todo[i : i + 500]
        rows = sql.fetchall(
            'SELECT i.address, c.id, c.name FROM "identity" i JOIN "customer" c ON c.id = i.customer_id '
            f"WHERE i.kind = ? AND i.address IN ({sql.in_marks(len(part))})",
            [kind, *part],
        )
        got = {r[0]: (int(r[1]), r[2]) for r in rows}
        for a in part:
            cache.put(cache.customers, (kind, a), got.get(a))


def read_addresses(cache: batch_cache.BatchCache, customer_ids: list[int]) -> None:
    """The identities' addresses of these customers into the batch's cache, at most 500 customers a statement."""
    for i in range(0, len(customer_ids), 500):
        part = customer_ids[i : i + 500]
        got: dict[int, set[str]] = {c: set() for c in part}
        for r in sql.fetchall(
            f'SELECT customer_id, address FROM "identity" WHERE customer_id IN ({sql.in_marks(len(part))})', part
        ):
            got[int(r[0])].add(r[1])
        for c, addrs in got.items():
            cache.put(cache.addresses, c, addrs)


def addresses(customer_id: int) -> set[str]:
    cache = batch_cache.current()
    if cache is not None:
        if customer_id not in cache.addresses:
            got = {r[0] for r in sql.fetchall('SELECT address FROM "identity" WHERE customer_id = ?', [customer_id])}
            cache.put(cache.addresses, customer_id, got)
        return set(cache.addresses[customer_id])
    return {r[0] for r in sql.fetchall('SELECT address FROM "identity" WHERE customer_id = ?', [customer_id])}


def create(kind: str, address: str, name: str, now: dt.datetime) -> CustomerRef:
    cid = sql.insert("customer", {"name": name, "tier": "standard", "created_at": now})
    if address:
        sql.insert("identity", {"customer_id": cid, "kind": kind, "address": address, "created_at": now})
    cache = batch_cache.current()
    if cache is not None:
        cache.put(cache.addresses, cid, {address} if address else set())
        if address:
            cache.put(cache.customers, (kind, address), (cid, name))
    return CustomerRef(cid, name)
