"""Incidents: many customers reporting one problem become one parent with its tickets.

``group`` runs in the pipeline's transaction right after a new ticket got its
fingerprint. The band keys find recent open tickets that read alike (one
indexed query); those of *other* customers at or above ``incident_threshold``
count. If one of them is in an open incident, the new ticket joins it; else
when ``incident_min_customers`` different customers (this one included) are
alike, an incident is opened with all of them. Alike tickets not yet in any
incident are swept in each time, so the first reports of a burst, which saw
nothing yet when they were processed, end up in it too.

Concurrency: a ticket with no alike neighbour takes no lock (the usual case, so
normal traffic is not serialised). One that has neighbours takes an advisory
lock (PostgreSQL; SQLite's write lock serialises anyway) and looks again, so
two workers of the same burst cannot open two incidents.

``reply`` is the fan-out of one agent answer: an outbound message and an
outbox row on each open child ticket, on that ticket's own channel, composed
by ``workers.replies`` as an answer from Slack or the API is.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from helpline.router import similarity as sim
from helpline.store import fastsql
from helpline.store import similarity_state as state
from helpline.store.config import Settings
from helpline.store.db import is_sqlite

from . import persist, replies

log = logging.getLogger("helpline.workers")
_LOCK = 0x494E4344  # "INCD"


def _alike(ticket_id: int, customer_id: int, fp: sim.Fingerprint, settings: Settings,
           now: dt.datetime) -> list[tuple[state.Indexed, float]]:
    since = now - dt.timedelta(seconds=settings.incident_window_s)
    mine = fp.as_array()
    out = []
    for c in state.band_candidates(fp.bands, since, ticket_id):
        if c.customer_id == customer_id:
            continue
        score = sim.similarity(mine, c.signature)
        if score >= settings.incident_threshold:
            out.append((c, score))
    out.sort(key=lambda p: -p[1])
    return out


def group(ticket_id: int, customer_id: int, subject: str, fp: sim.Fingerprint, settings: Settings,
          now: dt.datetime) -> int | None:
    """Put the new ticket into an incident when others report the same; the incident id or None."""
    alike = _alike(ticket_id, customer_id, fp, settings, now)
    if not alike:
        return None
    if not is_sqlite():
        fastsql.execute("SELECT pg_advisory_xact_lock(?)", [_LOCK])
        alike = _alike(ticket_id, customer_id, fp, settings, now)  # what committed while we waited
    joined = next((c.incident_id for c, _ in alike if c.incident_id is not None), None)
    loose = [(c.ticket_id, s) for c, s in alike if c.incident_id is None]
    if joined is None:
        customers = {customer_id} | {c.customer_id for c, _ in alike}
        if len(customers) < settings.incident_min_customers:
            return None
        oldest = min(alike, key=lambda p: p[0].ticket_id)[0]
        joined = state.create_incident(oldest.subject or subject, now)
        number = state.incident_number(joined)
        persist.event(None, "incident_opened", {"incident": number, "customers": len(customers),
                                                "first_ticket": oldest.number}, now=now)
        log.info("event=incident_opened incident=%s customers=%d", number, len(customers))
    number = state.incident_number(joined)
    best = alike[0][1]
    added = state.add_to_incident(joined, [(ticket_id, best)] + loose, now)
    for tid in added:
        persist.event(tid, "incident_joined", {"incident": number, "similarity": round(
            best if tid == ticket_id else dict(loose).get(tid, best), 2)}, now=now)
    return joined


# ---- one answer to every ticket of the incident ----------------------------------------------
@dataclass
class FanOut:
    sent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)


def reply_one(ticket_id: int, text: str, *, agent: str, actor: str, key: str, settings: Settings,
              now: dt.datetime) -> tuple[str, str, int | None]:
    """Answer one ticket's customer on their channel: (channel, recipient, outbox id); channel "" and the
    reason when it cannot be answered. An answer already queued under ``key`` is not queued again."""
    done = replies.queued(key, ticket_id)
    if done is not None:
        return done[1], done[2], None
    r = replies.compose(ticket_id, text, agent=agent, actor=actor, key=key, settings=settings, now=now,
                        audit={"via": "incident"})
    if r.channel:
        return r.channel, r.recipient, r.outbox_id
    if r.reason == replies.NO_CUSTOMER:
        return "", r.reason, None
    return "", f"customers who wrote by {r.wrote_on or 'no channel'} cannot be answered from an incident", None


def reply(incident_id: int, text: str, *, agent: str, actor: str, reply_key: str, settings: Settings,
          now: dt.datetime) -> FanOut:
    """The same answer to every open ticket of the incident, each on its own channel.

    ``reply_key`` names this answer: running the same reply again (a retried
    command) enqueues nothing twice. Merged, closed and resolved children are
    skipped and listed."""
    if not text.strip():
        raise ValueError("the reply text is empty")
    if state.get_incident(incident_id) is None:
        raise LookupError(f"no incident {state.incident_number(incident_id)}; `helpline incidents list` shows them")
    out = FanOut()
    for child in state.incident_tickets(incident_id):
        if child["status"] not in state.ACTIVE:
            out.skipped.append({"ticket": child["ticket"], "reason": f"the ticket is {child['status']}"})
            continue
        channel, to, row_id = reply_one(child["id"], text, agent=agent, actor=actor,
                                        key=f"incident-reply:{reply_key}:{child['id']}", settings=settings, now=now)
        if not channel:
            out.skipped.append({"ticket": child["ticket"], "reason": to})
            continue
        out.sent.append({"ticket": child["ticket"], "channel": channel, "to": to})
        if row_id is not None:
            out.outbox_ids.append(row_id)
    persist.event(None, "incident_replied", {"incident": state.incident_number(incident_id), "key": reply_key,
                                             "tickets": len(out.sent), "skipped": len(out.skipped)},
                  actor=actor, now=now)
    return out
