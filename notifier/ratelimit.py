"""Rate limits for automatic replies: per address and overall, per sliding hour.

Counters live in the database (one row per key and clock hour) and are
incremented in the transaction that queues the reply, so the limit holds across
workers and restarts. The last hour is estimated the usual sliding-window way:
this hour's count plus the previous hour's, weighted by how much of it is still
inside the window. The overall counter is spread over a few shard rows so that
workers on PostgreSQL do not queue on one hot row.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from helpline.store.outbound import rate_counters

from helpline.notifier.addresses import addr_spec, canonical

SHARDS = 8
_EPOCH = dt.datetime(1970, 1, 1)


def _hour(now: dt.datetime) -> tuple[int, float]:
    hours = (now - _EPOCH).total_seconds() / 3600.0
    return int(hours), hours - int(hours)


def _address_key(kind: str, recipient: str) -> str:
    return f"{kind}:to:{canonical(addr_spec(recipient) or recipient)}"[:400]


def recent(kind: str, recipient: str, now: dt.datetime) -> tuple[int, int]:
    """(sent to this mailbox, sent in total) over the last hour, rounded up."""
    bucket, into = _hour(now)
    own = _address_key(kind, recipient)
    keys = [own] + [f"{kind}:all:{i}" for i in range(SHARDS)]
    rows = rate_counters.with_previous(keys, bucket)
    weight = {bucket: 1.0, bucket - 1: 1.0 - into}
    to_address = sum(c * weight[b] for k, b, c in rows if k == own)
    total = sum(c * weight[b] for k, b, c in rows if k != own)
    return math.ceil(to_address), math.ceil(total)


def record(kind: str, recipient: str, now: dt.datetime) -> None:
    """Count one automatic reply (inside the caller's transaction)."""
    bucket, _ = _hour(now)
    # Both counters in one statement: the address's and one shard of the global count.
    rate_counters.add_one_each(_address_key(kind, recipient), f"{kind}:all:{random.randrange(SHARDS)}", bucket)
