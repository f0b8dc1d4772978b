"""An in-memory LSH index of recent tickets' MinHash signatures: which of them read like this one?

Why in memory: incident grouping (``workers.incident_grouper``) runs in one
place at a time (a lease), a few times a second, over the tickets opened since
its last round. Keeping the window's band keys in a dict there costs about
3.5 KB per ticket (38 MB for 11,000 tickets of dense, templated text) and answers a lookup in a few
microseconds, where the band keys in the database cost every new ticket 32
index entries written inside the pipeline's write transaction. The database
keeps the signatures (``ticket_fingerprint``), so a grouper that starts, or
takes over the lease, rebuilds this index from them.

Each band key keeps only its ``per_band`` newest tickets, so a lookup stays
bounded when thousands of recent tickets look alike (an outage, templated
mail): a ticket alike enough to matter shares many bands and is still found
through the others.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from helpline.router import similarity as sim


@dataclass(slots=True)
class Entry:
    ticket_id: int
    customer_id: int
    signature: np.ndarray
    bands: tuple[int, ...]
    created_at: dt.datetime
    number: str = ""
    subject: str = ""
    incident_id: int | None = None


@dataclass
class LshIndex:
    per_band: int = 8
    max_tickets: int = 200_000
    _tickets: "OrderedDict[int, Entry]" = field(default_factory=OrderedDict)
    # band key -> its ticket id, or a list of ids (newest last) once it has several: most band keys have
    # one ticket, and an int costs nothing where a list costs 64 bytes (a deque 600), 32 times per ticket.
    _bands: dict[int, int | list[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: int) -> bool:
        return ticket_id in self._tickets

    def get(self, ticket_id: int) -> Entry | None:
        return self._tickets.get(ticket_id)

    def add(self, entry: Entry) -> None:
        """Tickets are added in the order they were opened; the oldest fall out first."""
        if entry.ticket_id in self._tickets:
            return
        self._tickets[entry.ticket_id] = entry
        for band in entry.bands:
            hits = self._bands.get(band)
            if hits is None:
                self._bands[band] = entry.ticket_id
            elif isinstance(hits, int):
                self._bands[band] = [hits, entry.ticket_id]
            else:
                hits.append(entry.ticket_id)
                if len(hits) > self.per_band:
                    del hits[0]
        while len(self._tickets) > self.max_tickets:
            self._drop(next(iter(self._tickets)))

    def expire(self, before: dt.datetime) -> int:
        """Forget tickets opened before ``before`` (out of every window); how many."""
        gone = 0
        while self._tickets:
            first = next(iter(self._tickets.values()))
            if first.created_at >= before:
                break
            self._drop(first.ticket_id)
            gone += 1
        return gone

    def _drop(self, ticket_id: int) -> None:
        entry = self._tickets.pop(ticket_id)
        for band in entry.bands:
            hits = self._bands.get(band)
            if hits is None:
                continue
            if isinstance(hits, int):
                if hits == ticket_id:
                    del self._bands[band]
                continue
            if ticket_id in hits:  # else already pushed out by newer tickets
                hits.remove(ticket_id)
            if not hits:
                del self._bands[band]

    def alike(
        self,
        signature: np.ndarray,
        bands: tuple[int, ...],
        *,
        threshold: float,
        since: dt.datetime,
        exclude_customer: int | None = None,
        limit: int = 50,
    ) -> list[tuple[Entry, float]]:
        """Tickets opened since ``since`` sharing a band key and estimated at least ``threshold`` alike,
        most alike first; tickets of ``exclude_customer`` left out."""
        shared: dict[int, int] = {}
        for band in bands:
            hits = self._bands.get(band)
            if hits is None:
                continue
            for tid in (hits,) if isinstance(hits, int) else hits:
                shared[tid] = shared.get(tid, 0) + 1
        out: list[tuple[Entry, float]] = []
        for tid, _ in sorted(shared.items(), key=lambda kv: -kv[1])[:limit]:
            entry = self._tickets.get(tid)
            if entry is None or entry.created_at < since or entry.customer_id == exclude_customer:
                continue
            score = sim.similarity(signature, entry.signature)
            if score >= threshold:
                out.append((entry, score))
        out.sort(key=lambda pair: -pair[1])
        return out
