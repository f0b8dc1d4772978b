"""Retention: per-team policies that delete raw MIME, attachments, and closed tickets' content after N days.

Policies come from the configuration file::

    [[retention.policies]]
    team = "billing"                 # omitted: every team without a policy of its own, and tickets of no team
    raw_mime_days = 30               # the raw message as it arrived (the parsed text stays)
    attachment_days = 90             # attachment rows and their blobs
    closed_ticket_days = 365         # closed this long ago:
    closed_ticket_action = "anonymise"   # blank what identifies anyone, keep messages' times and figures
                                         # or "erase": also delete the messages, events, inbound and outbox rows

Each kind is selected oldest first and handled ``batch`` items per
transaction, so the write lock is held briefly; customers under a legal hold
are skipped. A blob goes only when no remaining row names it. ``plan`` lists
what a run would remove without changing anything (``--dry-run``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import peewee as pw

from helpline.store import models as m
from helpline.store.storage.blobs import BlobStore
from helpline.store.siteconfig.config_file import ConfigFileError, TableContext, read_toml
from helpline.store.siteconfig.retention_config import Policy, parse_policies
from helpline.store.db import run_tx
from helpline.store.channels.sms_state import SmsMedia
from helpline.store.tuple_rows import tuples
from helpline.store.lifecycle import erasure, search_hook
from helpline.store.lifecycle.schema import LegalHold

DONE_EVENT = "retention_applied"  # on a ticket whose closed-ticket policy ran (it is not selected again)


@dataclass
class RunResult:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)  # dry run: what would go (ticket numbers, ids)

    def add(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "counts": self.counts, "items": self.items}


def load_policies(config_file: str) -> tuple[Policy, ...]:
    if not config_file:
        return ()
    data = read_toml(config_file)
    return parse_policies(
        config_file, data, {str(t.get("name")) for t in data.get("teams", []) if isinstance(t, dict)}, TableContext
    )


# ---- selection ---------------------------------------------------------------------------------
def _scope(policy: Policy, policies: tuple[Policy, ...]) -> pw.Expression:
    """Tickets the policy governs, minus those of customers under a legal hold."""
    held = LegalHold.select(LegalHold.customer_id)
    where: pw.ColumnBase
    if policy.team:
        where = m.Ticket.team == policy.team
    else:
        own = [p.team for p in policies if p.team]
        where = m.Ticket.team.is_null() | ~m.Ticket.team.in_(own) if own else pw.SQL("1 = 1")
    scope: pw.Expression = where & ~m.Ticket.customer.in_(held)
    return scope


def _cutoff(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


def raw_due(policy: Policy, policies: tuple[Policy, ...], now: dt.datetime, limit: int) -> list[int]:
    if policy.raw_mime_days is None:
        return []
    q = (
        m.Message.select(m.Message.id)
        .join(m.Ticket)
        .where(
            _scope(policy, policies)
            & (m.Message.raw_blob_key != "")
            & (m.Message.created_at < _cutoff(now, policy.raw_mime_days))
        )
        .order_by(m.Message.id)
        .limit(limit)
    )
    return [i for (i,) in tuples(q)]


def attachments_due(policy: Policy, policies: tuple[Policy, ...], now: dt.datetime, limit: int) -> list[int]:
    if policy.attachment_days is None:
        return []
    q = (
        m.Attachment.select(m.Attachment.id)
        .join(m.Message)
        .join(m.Ticket)
        .where(_scope(policy, policies) & (m.Message.created_at < _cutoff(now, policy.attachment_days)))
        .order_by(m.Attachment.id)
        .limit(limit)
    )
    return [i for (i,) in tuples(q)]


def closed_due(policy: Policy, policies: tuple[Policy, ...], now: dt.datetime, limit: int) -> list[int]:
    if policy.closed_ticket_days is None:
        return []
    done = m.Event.select(m.Event.ticket).where(m.Event.kind == DONE_EVENT)
    q = (
        m.Ticket.select(m.Ticket.id)
        .where(
            _scope(policy, policies)
            & (m.Ticket.status == m.TicketStatus.CLOSED)
            & (m.Ticket.closed_at < _cutoff(now, policy.closed_ticket_days))
            & ~m.Ticket.id.in_(done)
        )
        .order_by(m.Ticket.id)
        .limit(limit)
    )
    return [i for (i,) in tuples(q)]


# ---- the changes (each in the caller's transaction) ----------------------------------------------
def drop_raw(message_ids: list[int]) -> set[str]:
    keys = {k for (k,) in tuples(m.Message.select(m.Message.raw_blob_key).where(m.Message.id.in_(message_ids)))}
    inbound = m.Message.select(m.Message.inbound).where(m.Message.id.in_(message_ids))
    keys |= {k for (k,) in tuples(m.Inbound.select(m.Inbound.raw_blob_key).where(m.Inbound.id.in_(inbound)))}
    m.Inbound.update(raw_blob_key="").where(m.Inbound.id.in_(inbound)).execute()
    m.Message.update(raw_blob_key="").where(m.Message.id.in_(message_ids)).execute()
    return keys


def drop_attachments(attachment_ids: list[int]) -> set[str]:
    keys = {k for (k,) in tuples(m.Attachment.select(m.Attachment.blob_key).where(m.Attachment.id.in_(attachment_ids)))}
    m.Attachment.delete().where(m.Attachment.id.in_(attachment_ids)).execute()
    SmsMedia.update(blob_key="").where(SmsMedia.blob_key.in_(list(keys))).execute()
    return keys


def close_out(ticket_ids: list[int], action: str, now: dt.datetime) -> set[str]:
    """Anonymise (or erase the content of) closed tickets; the ticket rows and their figures stay."""
    mids = [i for (i,) in tuples(m.Message.select(m.Message.id).where(m.Message.ticket.in_(ticket_ids)))]
    names: set[str] = set()
    for tid in ticket_ids:
        t = m.Ticket.get_by_id(tid)
        names |= {
            a.lower()
            for (a,) in tuples(m.Identity.select(m.Identity.address).where(m.Identity.customer == t.customer_id))
        }
    _, keys = erasure.anonymise_tickets(ticket_ids, mids, erasure.Personal(tuple(sorted(names))))
    if action == "erase":
        inbound = [i for (i,) in tuples(m.Inbound.select(m.Inbound.id).where(m.Inbound.ticket.in_(ticket_ids)))]
        m.Outbox.delete().where(m.Outbox.ticket.in_(ticket_ids) | m.Outbox.out_message.in_(mids)).execute()
        m.Message.delete().where(m.Message.id.in_(mids)).execute()
        m.Inbound.delete().where(m.Inbound.id.in_(inbound)).execute()
        m.Event.delete().where(m.Event.ticket.in_(ticket_ids)).execute()
    for tid in ticket_ids:
        m.Event.create(ticket=tid, actor="retention", kind=DONE_EVENT, created_at=now, data={"action": action})
    return keys


# ---- a run --------------------------------------------------------------------------------------
def run(
    policies: tuple[Policy, ...],
    blobs: BlobStore | None,
    *,
    now: dt.datetime | None = None,
    batch: int = 200,
    dry_run: bool = False,
    max_batches: int = 50,
) -> RunResult:
    """Apply (or, ``dry_run``, list) every policy; at most ``max_batches`` transactions per kind and policy,
    so one run under the scheduler's lease stays short; the next run goes on where this one stopped."""
    now = now or m.utcnow()
    result = RunResult(dry_run)
    steps = (
        ("raw_mime", raw_due, drop_raw),
        ("attachments", attachments_due, drop_attachments),
        ("closed_tickets", closed_due, None),
    )
    for policy in policies:
        for kind, due, change in steps:
            if dry_run:  # nothing changes, so one look covers what the batches of a run would take
                ids = run_tx(partial(due, policy, policies, now, batch * max_batches), durable=False)
                if ids:
                    result.add(kind, len(ids))
                    result.items.setdefault(kind, []).extend(run_tx(partial(_describe, kind, ids), durable=False))
                continue
            for _ in range(max_batches):
                ids = run_tx(partial(due, policy, policies, now, batch), durable=False)
                if not ids:
                    break
                if change is None:
                    keys = run_tx(partial(close_out, ids, policy.closed_ticket_action, now))
                    search_hook.forget_tickets(ids)
                else:
                    keys = run_tx(partial(change, ids))
                result.add(kind, len(ids))
                if blobs is not None:
                    result.add("blobs_deleted", erasure.delete_blobs(blobs, keys))
    return result


def _describe(kind: str, ids: list[int]) -> list[str]:
    """What the dry run shows: ticket numbers and message or attachment ids, no content."""
    if kind == "closed_tickets":
        return [
            n for (n,) in tuples(m.Ticket.select(m.Ticket.number).where(m.Ticket.id.in_(ids)).order_by(m.Ticket.id))
        ]
    if kind == "raw_mime":
        rows = tuples(
            m.Message.select(m.Message.id, m.Ticket.number)
            .join(m.Ticket)
            .where(m.Message.id.in_(ids))
            .order_by(m.Message.id)
        )
        return [f"{number} message {mid}" for mid, number in rows]
    rows = tuples(
        m.Attachment.select(m.Attachment.id, m.Attachment.size, m.Ticket.number)
        .join(m.Message)
        .join(m.Ticket)
        .where(m.Attachment.id.in_(ids))
        .order_by(m.Attachment.id)
    )
    return [f"{number} attachment {aid} ({size} bytes)" for aid, size, number in rows]


__all__ = ["ConfigFileError", "Policy", "RunResult", "load_policies", "parse_policies", "run"]
