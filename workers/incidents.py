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
outbox row on each open child ticket, on that ticket's own channel, as an
answer from Slack would be.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from helpline.notifier import loops, outbox, webhook_events
from helpline.notifier.agent_reply import render_agent_reply
from helpline.notifier.message_ids import make_message_id
from helpline.router import similarity as sim
from helpline.store import fastsql, signing
from helpline.store import similarity_state as state
from helpline.store.config import Settings
from helpline.store.db import is_sqlite
from helpline.store.envelope import Envelope

from . import persist

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


def _latest_customer_message(ticket_id: int) -> tuple[str, str, Envelope | None] | None:
    """(channel, sender, envelope) of the customer's newest message on the ticket."""
    row = fastsql.fetchone("SELECT m.channel, m.sender, i.envelope FROM \"message\" m LEFT JOIN \"inbound\" i "
                           "ON i.id = m.inbound_id WHERE m.ticket_id = ? AND m.direction = 'in' "
                           "AND m.author_role = 'customer' ORDER BY m.id DESC LIMIT 1", [ticket_id])
    if row is None:
        return None
    env = Envelope.from_dict(json.loads(row[2]) if isinstance(row[2], str) else row[2]) if row[2] else None
    return row[0], row[1], env


def _out_message(ticket_id: int, *, channel: str, agent: str, text: str, sender: str, subject: str,
                 message_id: str, now: dt.datetime) -> int:
    return fastsql.insert("message", {
        "ticket_id": ticket_id, "direction": "out", "author_role": "agent", "author": agent, "channel": channel,
        "external_id": "", "message_id": message_id, "sender": sender, "subject": subject, "text": text,
        "full_text": "", "html": "", "body_hash": "", "raw_blob_key": "", "delivery_status": "", "created_at": now})


def reply_one(ticket_id: int, text: str, *, agent: str, actor: str, key: str, settings: Settings,
              now: dt.datetime) -> tuple[str, str, int | None]:
    """Answer one ticket's customer on their channel: (channel, recipient, outbox id); channel "" and the
    reason when it cannot be answered. An answer already queued under ``key`` is not queued again."""
    from .routing_stage import on_agent_reply

    done = fastsql.fetchone('SELECT id, channel, recipient FROM "outbox" WHERE unique_key = ?', [key])
    if done is not None:
        return done[1], done[2], None
    ticket = persist.get_ticket(ticket_id)
    latest = _latest_customer_message(ticket_id)
    if latest is None:
        return "", "the ticket has no customer message to answer", None
    channel, sender, cenv = latest
    channel = "email" if channel == "form" else channel
    mid = ""
    if channel == "email":
        recipient = loops.reply_address(cenv) if cenv else sender
        mid = make_message_id(settings.mail_domain, ticket.number)
        reply_to = ""
        if settings.secret_key:
            local, _, domain = ticket.support_address.partition("@")
            reply_to = f"{local}+{signing.reply_token(settings.secret_key, ticket.id)}@{domain}"
        th = cenv.thread if cenv else None
        payload = render_agent_reply(
            ticket_number=ticket.number, subject=ticket.subject, agent_name=agent, text=text,
            support_address=ticket.support_address, recipient=recipient,
            in_reply_to=f"<{th.message_id}>" if th and th.message_id else "",
            references=[f"<{r}>" for r in th.references] if th else [], message_id=mid, reply_to=reply_to)
        bare = mid.strip("<>").lower()
        out_id = _out_message(ticket_id, channel="email", agent=agent, text=payload["text"],
                              sender=ticket.support_address, subject=payload["subject"], message_id=bare, now=now)
        persist.add_thread_keys(ticket_id, ["mid:" + bare])
    elif channel == "sms":
        from helpline.notifier.sms_sender import sms_payload

        recipient = sender
        from_number = str(cenv.metadata.get("to") or "") if cenv else ""
        payload = sms_payload(recipient, text, ref=key, from_number=from_number)
        out_id = _out_message(ticket_id, channel="sms", agent=agent, text=text, sender=from_number, subject="",
                              message_id="", now=now)
    elif channel == "slack" and cenv is not None and cenv.thread.conversation_id:
        cchannel, _, root = cenv.thread.conversation_id.partition(":")
        recipient = cchannel
        payload = {"op": "customer_reply", "channel": cchannel, "thread_ts": root, "text": text, "agent": agent}
        out_id = _out_message(ticket_id, channel="slack", agent=agent, text=text, sender=cchannel, subject="",
                              message_id="", now=now)
    else:
        return "", f"customers who wrote by {channel or 'no channel'} cannot be answered from an incident", None
    row = outbox.enqueue(channel=channel, kind="reply", recipient=recipient, payload=payload, unique_key=key,
                         ticket=ticket_id, out_message=out_id, message_id=mid)
    persist.event(ticket_id, "agent_replied", {"message": out_id, "channel": channel, "to": recipient,
                                               "via": "incident"}, actor=actor, now=now)
    webhook_events.emit(ticket_id, webhook_events.REPLIED, key, webhook_events.message_data(
        out_id, channel, "agent", ticket.subject, text, 0), settings, now)
    on_agent_reply(ticket_id, actor, settings, now)  # response clocks stop; a new ticket becomes open
    persist.update_ticket(ticket_id, updated_at=now)
    return channel, recipient, row.id if row is not None else None


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
