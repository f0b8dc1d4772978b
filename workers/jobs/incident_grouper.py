"""Incident grouping, a moment after the pipeline: many customers reporting one problem become one incident.

The pipeline stores each new ticket's MinHash signature (``ticket_fingerprint``,
``grouped = 0``) and moves on; grouping the tickets of different customers
does not have to happen inside that message's transaction, and doing it there
cost every new ticket 32 band-key rows and a band lookup under the desk-wide
write lock. Here, one grouper at a time (a lease; the scheduler runs it every
``incident_interval_s``) reads the new fingerprints in ticket order, finds
the alike tickets of other customers in an in-memory LSH index of the window
(``router.lsh_index``), and writes the incidents of the whole round in one
transaction.

The rule is the one a per-message stage would apply, in the same order: a
new ticket whose alike tickets (other customers, at or above
``incident_threshold``, still active) include one in an incident joins that
incident; otherwise, once ``incident_min_customers`` different customers (this
one included) are alike, an incident is opened with all of them. Alike
tickets not yet in any incident are swept in each time, so the first reports
of a burst end up in it too.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass, field

import numpy as np

from helpline.router import similarity as sim
from helpline.router.lsh_index import Entry, LshIndex
from helpline.store.channels import imap_state
from helpline.store.tickets import similarity_state as state
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.db import run_tx

from helpline.store.inbound import audit_events

log = logging.getLogger("helpline.workers")
LEASE = "job:incident-grouper"  # a row of the lease table the IMAP pollers use too
ROUND_LIMIT = 2000  # fingerprints per round; a backlog takes several rounds, oldest first
WRITES_PER_TX = 25  # tickets placed per write transaction: the writer lock is held for milliseconds, not a round


@dataclass
class Round:
    tickets: int = 0
    joined: int = 0
    opened: list[str] = field(default_factory=list)
    skipped: str = ""

    def as_dict(self) -> dict:
        return {"tickets": self.tickets, "joined": self.joined, "opened": self.opened, "skipped": self.skipped}


def _entry(row: state.Fingerprinted) -> Entry:
    return Entry(
        row.ticket_id,
        row.customer_id,
        np.frombuffer(row.signature, dtype="<u4"),
        sim.band_keys(row.signature),
        row.created_at,
        row.number,
        row.subject,
        row.incident_id,
    )


class Grouper:
    """Holds the index between rounds; ``run_round`` is what the scheduler calls."""

    def __init__(self, settings: Settings, holder: str | None = None) -> None:
        self.settings = settings
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.index: LshIndex | None = None  # None until this process holds the lease and has loaded the window

    def run_round(self, now: dt.datetime | None = None) -> Round:
        s = self.settings
        if not s.similarity:
            return Round(skipped="similarity is off")
        ttl = max(10.0, 5 * s.incident_interval_s)
        if not imap_state.acquire_lease(LEASE, self.holder, ttl):
            self.index = None  # another grouper works; on taking over, the window is loaded afresh
            return Round(skipped="another grouper holds the lease")
        now = now or utcnow()
        since = now - dt.timedelta(seconds=s.incident_window_s)
        if self.index is None:
            self.index = LshIndex(max_tickets=s.incident_index_max)
            for row in state.grouped_since(since, s.incident_index_max):
                self.index.add(_entry(row))
            log.info("event=incident_index_loaded tickets=%d", len(self.index))
        self.index.expire(since)
        rows = state.ungrouped(ROUND_LIMIT)
        if not rows:
            return Round()
        return self._group(rows, since, now)

    def release(self) -> None:
        imap_state.release_lease(LEASE, self.holder)
        self.index = None

    def _group(self, rows: list[state.Fingerprinted], since: dt.datetime, now: dt.datetime) -> Round:
        """Look-ups in memory and one read, then the writes in short transactions.

        Why short: on SQLite every writer, intake included, waits for the one
        write lock, and a round at 300 new tickets a second holds hundreds of
        them. A failed write raises; the caller drops the index, and the rows
        not yet marked are grouped again by the next round, against a window
        reloaded from what did commit."""
        index = self.index
        assert index is not None
        s = self.settings
        alike_of: dict[int, list[tuple[Entry, float]]] = {}
        for row in rows:  # in ticket order, each sees the ones before it, as a per-message stage would
            entry = _entry(row)
            alike_of[row.ticket_id] = index.alike(
                entry.signature,
                entry.bands,
                threshold=s.incident_threshold,
                since=since,
                exclude_customer=row.customer_id,
            )
            index.add(entry)
        live = state.live_state(sorted({e.ticket_id for pairs in alike_of.values() for e, _ in pairs} | set(alike_of)))
        done = Round(tickets=len(rows))
        for start in range(0, len(rows), WRITES_PER_TX):
            chunk = rows[start : start + WRITES_PER_TX]

            def tx(chunk: list[state.Fingerprinted] = chunk) -> None:
                with audit_events.buffered_events():  # the chunk's events in one statement
                    for row in chunk:
                        pairs = [
                            (e, score)
                            for e, score in alike_of[row.ticket_id]
                            if live.get(e.ticket_id, ("gone",))[0] in state.ACTIVE
                        ]
                        if pairs and live.get(row.ticket_id, ("gone",))[0] in state.ACTIVE:
                            self._place(index.get(row.ticket_id) or _entry(row), pairs, live, done, now)
                    state.mark_grouped([row.ticket_id for row in chunk])

            run_tx(tx, retries=0, durable=False)  # re-derivable: an undone chunk's marks are undone with it
        return done

    def _place(self, me: Entry, pairs: list[tuple[Entry, float]], live: dict, done: Round, now: dt.datetime) -> None:
        def incident_of(e: Entry) -> int | None:
            return live.get(e.ticket_id, ("", None))[1] or e.incident_id

        joined = next((incident_of(e) for e, _ in pairs if incident_of(e) is not None), None)
        loose = [(e, score) for e, score in pairs if incident_of(e) is None]
        if joined is None:
            customers = {me.customer_id} | {e.customer_id for e, _ in pairs}
            if len(customers) < self.settings.incident_min_customers:
                return
            oldest = min((e for e, _ in pairs), key=lambda e: e.ticket_id)
            joined = state.create_incident(oldest.subject or me.subject, now)
            number = state.incident_number(joined)
            audit_events.event(
                None,
                "incident_opened",
                {"incident": number, "customers": len(customers), "first_ticket": oldest.number},
                now=now,
            )
            done.opened.append(number)
            log.info("event=incident_opened incident=%s customers=%d", number, len(customers))
        number = state.incident_number(joined)
        best = pairs[0][1]
        scores = {e.ticket_id: score for e, score in loose}
        added = state.add_to_incident(joined, [(me.ticket_id, best)] + [(e.ticket_id, sc) for e, sc in loose], now)
        for tid in added:
            entry = me if tid == me.ticket_id else next(e for e, _ in loose if e.ticket_id == tid)
            entry.incident_id = joined
            live[tid] = (live.get(tid, ("open", None))[0], joined)
            audit_events.event(
                tid,
                "incident_joined",
                {"incident": number, "similarity": round(best if tid == me.ticket_id else scores.get(tid, best), 2)},
                now=now,
            )
        done.joined += len(added)
