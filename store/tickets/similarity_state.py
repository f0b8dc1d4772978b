"""The reads and writes of near-duplicates, merges and incidents.

Tables (migrations 11 and 12, models below):

- ``ticket_fingerprint``: one row per ticket opened by a customer message: its
  MinHash signature (``router.similarity``), reference numbers and customer;
- ``ticket_band`` (migration 11, dropped by 12): the band keys were rows here,
  written by every new ticket inside the pipeline's transaction; incident
  grouping now keeps them in memory (``router.lsh_index``), and
  ``ticket_fingerprint.grouped`` (migration 12) marks the tickets it has seen;
- ``ticket_merge``: one row per merge, the pointer from the source to the
  target and what moved (messages, events, thread keys, participants), so a
  split can move exactly that back; ``split_at`` is set when it was undone;
- ``incident`` and ``incident_ticket``: a parent grouping the tickets of many
  customers reporting one problem; a ticket is in at most one incident.

All functions run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, cast

import peewee as pw

from helpline.store import fastsql as sql
from helpline.store.db import is_sqlite
from helpline.store.models import Base, Ticket

ACTIVE = ("new", "open", "in_progress", "waiting_customer")


class TicketFingerprint(Base):
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, primary_key=True, on_delete="CASCADE", backref="fingerprint")
    customer_id = pw.IntegerField()
    signature = pw.BlobField()
    refs = pw.TextField()
    created_at = pw.DateTimeField()
    grouped = pw.IntegerField(default=1, constraints=[pw.SQL("DEFAULT 1")])  # 0 until the grouper saw it

    class Meta:
        indexes = ((("customer_id", "created_at"), False),)


TicketFingerprint.add_index(TicketFingerprint.index(TicketFingerprint.ticket, where=TicketFingerprint.grouped == 0))


class TicketMerge(Base):
    id = pw.AutoField()
    source_id: int
    target_id: int
    source = pw.ForeignKeyField(Ticket, on_delete="CASCADE", backref="merged_into")
    target = pw.ForeignKeyField(Ticket, on_delete="CASCADE", backref="merged_from")
    actor = pw.TextField()
    reason = pw.TextField()
    previous_status = pw.TextField()
    moved = pw.TextField()  # JSON: what moved, so a split can move exactly that back
    merged_at = pw.DateTimeField()
    split_at = pw.DateTimeField(null=True)
    split_by = pw.TextField(null=True)


class Incident(Base):
    id = pw.AutoField()
    title = pw.TextField()
    status = pw.TextField()
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    resolved_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "created_at"), False),)


class IncidentTicket(Base):
    id = pw.AutoField()
    incident_id: int
    ticket_id: int
    incident = pw.ForeignKeyField(Incident, on_delete="CASCADE", backref="tickets")
    ticket = pw.ForeignKeyField(Ticket, unique=True, on_delete="CASCADE", backref="incident_link")
    similarity = pw.FloatField()
    added_at = pw.DateTimeField()


MODELS: list[type[Base]] = [TicketFingerprint, TicketMerge, Incident, IncidentTicket]


def _blob(value: Any) -> bytes:
    return bytes(value) if not isinstance(value, bytes) else value


# ---- fingerprints ------------------------------------------------------------------------
def index_ticket(ticket_id: int, customer_id: int, signature: bytes, refs: Iterable[str], now: dt.datetime) -> None:
    """One row: the signature, for the customer's next message (``customer_open``) and for the incident
    grouper, which picks the row up (``grouped = 0``) a moment later."""
    sql.insert_many(
        "ticket_fingerprint",
        [
            {
                "ticket_id": ticket_id,
                "customer_id": customer_id,
                "signature": signature,
                "refs": " ".join(sorted(refs)),
                "created_at": now,
                "grouped": 0,
            }
        ],
    )


@dataclass(frozen=True)
class Indexed:
    ticket_id: int
    number: str
    customer_id: int
    signature: bytes
    refs: str
    subject: str


def serialise_customer(customer_id: int) -> None:
    """Make this customer's new messages take turns until the transaction ends (a PostgreSQL advisory lock;
    SQLite's write lock does it already), so an email and a text sent seconds apart cannot both open a ticket."""
    if not is_sqlite():
        sql.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"customer:{customer_id}"])


def customer_open(customer_id: int, since: dt.datetime) -> list[Indexed]:
    """The customer's active tickets opened since ``since``, with their fingerprints (an indexed range)."""
    rows = sql.fetchall(
        'SELECT f.ticket_id, t.number, f.customer_id, f.signature, f.refs, t.subject FROM "ticket_fingerprint" f '
        f'JOIN "ticket" t ON t.id = f.ticket_id WHERE f.customer_id = ? AND f.created_at >= ? '
        f"AND t.status IN ({sql.in_marks(len(ACTIVE))}) ORDER BY f.created_at DESC LIMIT 50",
        [customer_id, since, *ACTIVE],
    )
    return [Indexed(r[0], r[1], r[2], _blob(r[3]), r[4], r[5]) for r in rows]


@dataclass(frozen=True)
class Fingerprinted:
    ticket_id: int
    customer_id: int
    signature: bytes
    created_at: dt.datetime
    number: str
    subject: str
    incident_id: int | None


_FINGERPRINTED = (
    "SELECT f.ticket_id, f.customer_id, f.signature, f.created_at, t.number, t.subject, it.incident_id "
    'FROM "ticket_fingerprint" f JOIN "ticket" t ON t.id = f.ticket_id '
    'LEFT JOIN "incident_ticket" it ON it.ticket_id = f.ticket_id '
)


def _fingerprinted(rows: list[tuple[Any, ...]]) -> list[Fingerprinted]:
    return [
        Fingerprinted(r[0], r[1], _blob(r[2]), cast(dt.datetime, _as_datetime(r[3])), r[4], r[5], r[6]) for r in rows
    ]  # created_at is NOT NULL


_as_datetime = sql.as_datetime  # SQLite hands back text, PostgreSQL a datetime


def ungrouped(limit: int) -> list[Fingerprinted]:
    """Fingerprints the incident grouper has not seen yet, oldest ticket first."""
    return _fingerprinted(sql.fetchall(_FINGERPRINTED + "WHERE f.grouped = 0 ORDER BY f.ticket_id LIMIT ?", [limit]))


def grouped_since(since: dt.datetime, limit: int) -> list[Fingerprinted]:
    """The window a starting grouper loads into its index, oldest first."""
    return _fingerprinted(
        sql.fetchall(
            _FINGERPRINTED + "WHERE f.created_at >= ? AND f.grouped = 1 ORDER BY f.ticket_id LIMIT ?", [since, limit]
        )
    )


def mark_grouped(ticket_ids: Sequence[int]) -> None:
    if ticket_ids:
        sql.execute(
            f'UPDATE "ticket_fingerprint" SET grouped = 1 WHERE ticket_id IN ({sql.in_marks(len(ticket_ids))})',
            list(ticket_ids),
        )


def live_state(ticket_ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
    """ticket id -> (status, incident id) now: the index knows neither closes, merges nor manual incident edits."""
    if not ticket_ids:
        return {}
    rows = sql.fetchall(
        f'SELECT t.id, t.status, it.incident_id FROM "ticket" t LEFT JOIN "incident_ticket" it '
        f"ON it.ticket_id = t.id WHERE t.id IN ({sql.in_marks(len(ticket_ids))})",
        list(ticket_ids),
    )
    return {r[0]: (r[1], r[2]) for r in rows}


# ---- merges --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MergeRow:
    id: int
    source_id: int
    target_id: int
    previous_status: str
    moved: str
    merged_at: Any


def add_merge(
    source_id: int, target_id: int, *, actor: str, reason: str, previous_status: str, moved: str, now: dt.datetime
) -> int:
    new_id = sql.insert(
        "ticket_merge",
        {
            "source_id": source_id,
            "target_id": target_id,
            "actor": actor,
            "reason": reason,
            "previous_status": previous_status,
            "moved": moved,
            "merged_at": now,
        },
    )
    return new_id


def open_merge(source_id: int) -> MergeRow | None:
    """The merge of ``source`` not split again: its pointer to the target."""
    row = sql.fetchone(
        'SELECT id, source_id, target_id, previous_status, moved, merged_at FROM "ticket_merge" '
        "WHERE source_id = ? AND split_at IS NULL ORDER BY id DESC LIMIT 1",
        [source_id],
    )
    return MergeRow(*row) if row else None


def merge_targets(source_ids: Sequence[int]) -> dict[int, int]:
    """source id -> the ticket it is merged into now (followed through chains of merges)."""
    out: dict[int, int] = {}
    for sid in source_ids:
        seen, cur = {sid}, sid
        for _ in range(10):
            row = sql.fetchone(
                'SELECT target_id FROM "ticket_merge" WHERE source_id = ? AND split_at IS NULL '
                "ORDER BY id DESC LIMIT 1",
                [cur],
            )
            if row is None or row[0] in seen:
                break
            cur = row[0]
            seen.add(cur)
        if cur != sid:
            out[sid] = cur
    return out


def mark_split(merge_id: int, actor: str, now: dt.datetime) -> None:
    sql.update("ticket_merge", merge_id, {"split_at": now, "split_by": actor})


# ---- incidents ------------------------------------------------------------------------------
def incident_of(ticket_id: int) -> int | None:
    row = sql.fetchone('SELECT incident_id FROM "incident_ticket" WHERE ticket_id = ?', [ticket_id])
    return row[0] if row else None


def create_incident(title: str, now: dt.datetime) -> int:
    new_id = sql.insert("incident", {"title": title[:500], "status": "open", "created_at": now, "updated_at": now})
    return new_id


def add_to_incident(incident_id: int, members: Sequence[tuple[int, float]], now: dt.datetime) -> list[int]:
    """Add (ticket id, similarity) pairs not yet in an incident; the ticket ids added."""
    added = []
    for ticket_id, score in members:
        got = sql.insert(
            "incident_ticket",
            {"incident_id": incident_id, "ticket_id": ticket_id, "similarity": round(score, 3), "added_at": now},
            on_conflict="ON CONFLICT DO NOTHING",
        )
        if got is not None:
            added.append(ticket_id)
    if added:
        sql.execute('UPDATE "incident" SET updated_at = ? WHERE id = ?', [now, incident_id])
    return added


def incident_number(incident_id: int) -> str:
    return f"INC-{incident_id:06d}"


def incident_id_of(ref: str) -> int | None:
    text = ref.strip().upper().removeprefix("INC-")
    return int(text) if text.isdigit() else None


def list_incidents(status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    where, params = ("WHERE i.status = ?", [status]) if status else ("", [])
    rows = sql.fetchall(
        "SELECT i.id, i.title, i.status, i.created_at, i.updated_at, COUNT(it.id), "
        f'COUNT(DISTINCT t.customer_id) FROM "incident" i LEFT JOIN "incident_ticket" it ON it.incident_id = i.id '
        f'LEFT JOIN "ticket" t ON t.id = it.ticket_id {where} '
        "GROUP BY i.id, i.title, i.status, i.created_at, i.updated_at ORDER BY i.id DESC LIMIT ?",
        [*params, limit],
    )
    return [
        {
            "incident": incident_number(r[0]),
            "id": r[0],
            "title": r[1],
            "status": r[2],
            "created_at": str(r[3]),
            "updated_at": str(r[4]),
            "tickets": r[5],
            "customers": r[6],
        }
        for r in rows
    ]


def incident_tickets(incident_id: int) -> list[dict[str, Any]]:
    rows = sql.fetchall(
        "SELECT t.id, t.number, t.status, t.channel, t.subject, t.customer_id, it.similarity, it.added_at "
        'FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id WHERE it.incident_id = ? ORDER BY t.id',
        [incident_id],
    )
    return [
        {
            "id": r[0],
            "ticket": r[1],
            "status": r[2],
            "channel": r[3],
            "subject": r[4],
            "customer": r[5],
            "similarity": r[6],
            "added_at": str(r[7]),
        }
        for r in rows
    ]


def get_incident(incident_id: int) -> dict[str, Any] | None:
    row = sql.fetchone(
        'SELECT id, title, status, created_at, updated_at, resolved_at FROM "incident" WHERE id = ?', [incident_id]
    )
    if row is None:
        return None
    return {
        "incident": incident_number(row[0]),
        "id": row[0],
        "title": row[1],
        "status": row[2],
        "created_at": str(row[3]),
        "updated_at": str(row[4]),
        "resolved_at": str(row[5]) if row[5] else None,
    }


def set_incident_status(incident_id: int, status: str, now: dt.datetime) -> None:
    sql.update(
        "incident",
        incident_id,
        {"status": status, "updated_at": now, "resolved_at": now if status == "resolved" else None},
    )


# ---- detaching a near-duplicate's message (``workers/tickets/ticket_detach.py``) ----------------
@dataclass(frozen=True)
class JoinedEvent:
    id: int
    kind: str
    actor: str
    data: dict[str, Any]
    created_at: dt.datetime


def _joined_events(where: Any) -> list[JoinedEvent]:
    from helpline.store.models import Event

    return [
        JoinedEvent(e.id, e.kind, e.actor, e.data if isinstance(e.data, dict) else {}, e.created_at)
        for e in Event.select().where(where).order_by(Event.id)
    ]


def near_duplicate_join(ticket_id: int, message_id: int) -> JoinedEvent | None:
    """The ``near_duplicate_merged`` event that joined ``message_id`` to ``ticket_id``, if it did and was not
    detached since (a ``near_duplicate_detached`` event naming the message)."""
    from helpline.store.models import Event

    events = _joined_events(
        (Event.ticket == ticket_id) & Event.kind.in_(("near_duplicate_merged", "near_duplicate_detached"))
    )
    mine = [e for e in events if e.data.get("message") == message_id]
    return mine[-1] if mine and mine[-1].kind == "near_duplicate_merged" else None


def events_of_instant(ticket_id: int, at: dt.datetime) -> list[JoinedEvent]:
    """The ticket's events written at ``at``: those of the transaction that wrote an event then."""
    from helpline.store.models import Event

    return _joined_events((Event.ticket == ticket_id) & (Event.created_at == at))


def move_events(event_ids: Sequence[int], ticket_id: int) -> None:
    from helpline.store.models import Event

    if event_ids:
        Event.update(ticket=ticket_id).where(Event.id.in_(list(event_ids))).execute()


def detach_offers_due(since: dt.datetime, limit: int) -> list[tuple[int, int, int, str, float]]:
    """(event id, ticket id, message id, ticket number, similarity) of recent near-duplicate joins on tickets posted in
    Slack whose Detach button was not offered yet (its outbox key ``slack:detach:<event id>``)."""
    rows = sql.fetchall(
        'SELECT e.id, e.ticket_id, e.data, t.number FROM "event" e '
        'JOIN "slack_thread" s ON s.ticket_id = e.ticket_id JOIN "ticket" t ON t.id = e.ticket_id '
        "WHERE e.kind = ? AND e.created_at >= ? "
        "AND NOT EXISTS (SELECT 1 FROM \"outbox\" o WHERE o.unique_key = 'slack:detach:' || e.id) "
        "ORDER BY e.id LIMIT ?",
        ["near_duplicate_merged", since, limit],
    )
    out = []
    for event_id, ticket_id, raw, number in rows:
        data = json.loads(raw) if isinstance(raw, str) else (raw or {})
        if isinstance(data.get("message"), int):
            out.append((event_id, ticket_id, data["message"], number, float(data.get("similarity") or 0.0)))
    return out
