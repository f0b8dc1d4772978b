"""The block list: senders and domains whose mail goes to spam (``workers/tickets/spam_stage.py``), never dropped.

Two sources, one list: the TOML file's ``[blocklist]`` (``senders``,
``domains``; read with the site configuration) and the entries operators add
with ``helpline blocklist add`` (this table, migration 23). A blocked domain
blocks its subdomains too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from helpline.store import batch_cache
from helpline.store.domains import (
    MAX_INPUT as MAX_INPUT,
    ascii_domain as ascii_domain,
    kind_of as kind_of,
)  # the rules, shared with [blocklist]
from helpline.store.models import Base, utcnow

KINDS = ("sender", "domain")


class BlockedSender(Base):
    id = pw.AutoField()
    kind = pw.CharField(max_length=16)
    value = pw.CharField(max_length=254)
    reason = pw.TextField()
    added_by = pw.CharField(max_length=255)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "blocked_sender"
        indexes = ((("kind", "value"), True),)


@dataclass(frozen=True)
class Entry:
    kind: str
    value: str
    reason: str = ""
    added_by: str = ""
    created_at: dt.datetime | None = None
    source: str = "database"  # or the TOML file's path


def check_reason(reason: str) -> str:
    """The reason kept with an entry: printable text (newlines and tabs allowed), at most 500 characters."""
    if len(reason) > 500:
        raise ValueError(f"the reason is {len(reason)} characters; at most 500")
    odd = [c for c in reason if not c.isprintable() and c not in "\n\t"]
    if odd:
        names = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(odd))
        raise ValueError(f"the reason contains control or invisible characters ({names})")
    return reason


def add(value: str, *, reason: str, added_by: str) -> tuple[Entry, bool]:
    """(the entry, True when it is new); inside the caller's transaction."""
    kind, v = kind_of(value)
    reason = check_reason(reason)
    row = BlockedSender.get_or_none((BlockedSender.kind == kind) & (BlockedSender.value == v))
    if row is not None:
        return Entry(kind, v, row.reason, row.added_by, row.created_at), False
    now = utcnow()
    BlockedSender.create(kind=kind, value=v, reason=reason, added_by=added_by, created_at=now)
    return Entry(kind, v, reason, added_by, now), True


def remove(value: str) -> bool:
    kind, v = kind_of(value)
    deleted: int = BlockedSender.delete().where((BlockedSender.kind == kind) & (BlockedSender.value == v)).execute()
    return deleted > 0


def stored() -> list[Entry]:
    return [
        Entry(r.kind, r.value, r.reason, r.added_by, r.created_at)
        for r in BlockedSender.select().order_by(BlockedSender.kind, BlockedSender.value)
    ]


def stored_sets() -> tuple[frozenset[str], frozenset[str]]:
    """(blocked senders, blocked domains) of the table, for the spam decision (read once per import batch)."""
    got: tuple[frozenset[str], frozenset[str]] = batch_cache.memoised("blocked", _stored_sets)
    return got


def _stored_sets() -> tuple[frozenset[str], frozenset[str]]:
    senders: set[str] = set()
    domains: set[str] = set()
    for row in BlockedSender.select(BlockedSender.kind, BlockedSender.value):
        (senders if row.kind == "sender" else domains).add(str(row.value))
    return frozenset(senders), frozenset(domains)
