"""Migration 11 and the reads and writes of near-duplicates, merges and incidents.

Tables (created by ``upgrade_v11``):

- ``ticket_fingerprint``: one row per ticket opened by a customer message: its
  MinHash signature (``router.similarity``), reference numbers and customer;
- ``ticket_band``: the signature's LSH band keys, indexed by (band, created_at):
  "which recent tickets look like this text" is one indexed lookup, the same
  from every worker process and host, so no similarity index lives in memory;
- ``ticket_merge``: one row per merge, the pointer from the source to the
  target and what moved (messages, events, thread keys, participants), so a
  split can move exactly that back; ``split_at`` is set when it was undone;
- ``incident`` and ``incident_ticket``: a parent grouping the tickets of many
  customers reporting one problem; a ticket is in at most one incident.

All functions run inside the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import peewee as pw

from . import fastsql as sql
from .db import is_sqlite

ACTIVE = ("new", "open", "in_progress", "waiting_customer")


def upgrade_v11(db: pw.Database) -> None:
    """Migration 11: fingerprints and band keys of tickets, merges, incidents."""
    blob = "BLOB" if is_sqlite() else "BYTEA"
    ident = "INTEGER PRIMARY KEY AUTOINCREMENT" if is_sqlite() else "SERIAL PRIMARY KEY"
    ts = "DATETIME" if is_sqlite() else "TIMESTAMP"
    for stmt in (
        f'CREATE TABLE IF NOT EXISTS "ticket_fingerprint" ("ticket_id" INTEGER PRIMARY KEY REFERENCES "ticket" ("id") '
        f'ON DELETE CASCADE, "customer_id" INTEGER NOT NULL, "signature" {blob} NOT NULL, "refs" TEXT NOT NULL, '
        f'"created_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "ticket_fingerprint_customer" ON "ticket_fingerprint" ("customer_id", "created_at")',
        f'CREATE TABLE IF NOT EXISTS "ticket_band" ("band" BIGINT NOT NULL, "ticket_id" INTEGER NOT NULL '
        f'REFERENCES "ticket" ("id") ON DELETE CASCADE, "created_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "ticket_band_band_created" ON "ticket_band" ("band", "created_at")',
        'CREATE INDEX IF NOT EXISTS "ticket_band_ticket" ON "ticket_band" ("ticket_id")',
        f'CREATE TABLE IF NOT EXISTS "ticket_merge" ("id" {ident}, "source_id" INTEGER NOT NULL REFERENCES "ticket" ("id") '
        f'ON DELETE CASCADE, "target_id" INTEGER NOT NULL REFERENCES "ticket" ("id") ON DELETE CASCADE, '
        f'"actor" TEXT NOT NULL, "reason" TEXT NOT NULL, "previous_status" TEXT NOT NULL, "moved" TEXT NOT NULL, '
        f'"merged_at" {ts} NOT NULL, "split_at" {ts}, "split_by" TEXT)',
        'CREATE INDEX IF NOT EXISTS "ticket_merge_source" ON "ticket_merge" ("source_id")',
        'CREATE INDEX IF NOT EXISTS "ticket_merge_target" ON "ticket_merge" ("target_id")',
        f'CREATE TABLE IF NOT EXISTS "incident" ("id" {ident}, "title" TEXT NOT NULL, "status" TEXT NOT NULL, '
        f'"created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL, "resolved_at" {ts})',
        'CREATE INDEX IF NOT EXISTS "incident_status" ON "incident" ("status", "created_at")',
        f'CREATE TABLE IF NOT EXISTS "incident_ticket" ("id" {ident}, "incident_id" INTEGER NOT NULL '
        f'REFERENCES "incident" ("id") ON DELETE CASCADE, "ticket_id" INTEGER NOT NULL UNIQUE '
        f'REFERENCES "ticket" ("id") ON DELETE CASCADE, "similarity" REAL NOT NULL, "added_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "incident_ticket_incident" ON "incident_ticket" ("incident_id")',
    ):
        db.execute_sql(stmt)


def _blob(value: Any) -> bytes:
    return bytes(value) if not isinstance(value, bytes) else value


# ---- fingerprints and band keys ---------------------------------------------------------
def index_ticket(ticket_id: int, customer_id: int, signature: bytes, bands: Sequence[int], refs: Iterable[str],
                 now: dt.datetime) -> None:
    """Two statements: the fingerprint, and all band keys in one multi-row INSERT."""
    sql.insert_many("ticket_fingerprint", [{"ticket_id": ticket_id, "customer_id": customer_id,
                                            "signature": signature, "refs": " ".join(sorted(refs)),
                                            "created_at": now}])
    sql.insert_many("ticket_band", [{"band": b, "ticket_id": ticket_id, "created_at": now} for b in bands])


@dataclass(frozen=True)
class Indexed:
    ticket_id: int
    number: str
    customer_id: int
    signature: bytes
    refs: str
    subject: str
    incident_id: int | None = None


def customer_open(customer_id: int, since: dt.datetime) -> list[Indexed]:
    """The customer's active tickets opened since ``since``, with their fingerprints (an indexed range)."""
    rows = sql.fetchall(
        'SELECT f.ticket_id, t.number, f.customer_id, f.signature, f.refs, t.subject FROM "ticket_fingerprint" f '
        f'JOIN "ticket" t ON t.id = f.ticket_id WHERE f.customer_id = ? AND f.created_at >= ? '
        f"AND t.status IN ({sql.in_marks(len(ACTIVE))}) ORDER BY f.created_at DESC LIMIT 50",
        [customer_id, since, *ACTIVE])
    return [Indexed(r[0], r[1], r[2], _blob(r[3]), r[4], r[5]) for r in rows]


PER_BAND = 4  # newest hits read per band key: 32 bands x 4 is up to 128 alike tickets, enough to see five customers


def band_candidates(bands: Sequence[int], since: dt.datetime, exclude_ticket: int, limit: int = 50) -> list[Indexed]:
    """Active tickets opened since ``since`` sharing at least one band key, most shared first.

    Each band key reads only its ``PER_BAND`` newest rows (one short index range
    each), so the cost per message stays bounded when many recent tickets look
    alike (an outage burst, or templated mail): an unbounded GROUP BY over every
    hit took 2.3 ms per message under ``helpline bench``, inside the write
    transaction. A ticket alike enough to matter shares many bands, so it is
    still found through the others."""
    per_band = " UNION ALL ".join(
        ['SELECT * FROM (SELECT ticket_id FROM "ticket_band" WHERE band = ? AND created_at >= ? '
         f'ORDER BY created_at DESC LIMIT {PER_BAND}) b{i}' for i in range(len(bands))])
    params: list[Any] = []
    for band in bands:
        params += [band, since]
    rows = sql.fetchall(
        'SELECT f.ticket_id, t.number, f.customer_id, f.signature, f.refs, t.subject, it.incident_id '
        f'FROM (SELECT ticket_id, COUNT(*) AS n FROM ({per_band}) hits WHERE ticket_id <> ? '
        'GROUP BY ticket_id ORDER BY n DESC LIMIT ?) c '
        'JOIN "ticket_fingerprint" f ON f.ticket_id = c.ticket_id JOIN "ticket" t ON t.id = c.ticket_id '
        'LEFT JOIN "incident_ticket" it ON it.ticket_id = c.ticket_id '
        f"WHERE t.status IN ({sql.in_marks(len(ACTIVE))})",
        [*params, exclude_ticket, limit, *ACTIVE])
    return [Indexed(r[0], r[1], r[2], _blob(r[3]), r[4], r[5], r[6]) for r in rows]


def prune_bands(before: dt.datetime) -> int:
    """Band keys older than every window are never looked up again; the scheduler may drop them."""
    cur = sql.execute('DELETE FROM "ticket_band" WHERE created_at < ?', [before])
    return cur.rowcount or 0


# ---- merges --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MergeRow:
    id: int
    source_id: int
    target_id: int
    previous_status: str
    moved: str
    merged_at: Any


def add_merge(source_id: int, target_id: int, *, actor: str, reason: str, previous_status: str, moved: str,
              now: dt.datetime) -> int:
    return sql.insert("ticket_merge", {"source_id": source_id, "target_id": target_id, "actor": actor,
                                       "reason": reason, "previous_status": previous_status, "moved": moved,
                                       "merged_at": now})


def open_merge(source_id: int) -> MergeRow | None:
    """The merge of ``source`` not split again: its pointer to the target."""
    row = sql.fetchone('SELECT id, source_id, target_id, previous_status, moved, merged_at FROM "ticket_merge" '
                       "WHERE source_id = ? AND split_at IS NULL ORDER BY id DESC LIMIT 1", [source_id])
    return MergeRow(*row) if row else None


def merge_targets(source_ids: Sequence[int]) -> dict[int, int]:
    """source id -> the ticket it is merged into now (followed through chains of merges)."""
    out: dict[int, int] = {}
    for sid in source_ids:
        seen, cur = {sid}, sid
        for _ in range(10):
            row = sql.fetchone('SELECT target_id FROM "ticket_merge" WHERE source_id = ? AND split_at IS NULL '
                               "ORDER BY id DESC LIMIT 1", [cur])
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
    return sql.insert("incident", {"title": title[:500], "status": "open", "created_at": now, "updated_at": now})


def add_to_incident(incident_id: int, members: Sequence[tuple[int, float]], now: dt.datetime) -> list[int]:
    """Add (ticket id, similarity) pairs not yet in an incident; the ticket ids added."""
    added = []
    for ticket_id, score in members:
        got = sql.insert("incident_ticket", {"incident_id": incident_id, "ticket_id": ticket_id,
                                             "similarity": round(score, 3), "added_at": now},
                         on_conflict="ON CONFLICT DO NOTHING")
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
        'SELECT i.id, i.title, i.status, i.created_at, i.updated_at, COUNT(it.id), '
        f'COUNT(DISTINCT t.customer_id) FROM "incident" i LEFT JOIN "incident_ticket" it ON it.incident_id = i.id '
        f'LEFT JOIN "ticket" t ON t.id = it.ticket_id {where} '
        "GROUP BY i.id, i.title, i.status, i.created_at, i.updated_at ORDER BY i.id DESC LIMIT ?", [*params, limit])
    return [{"incident": incident_number(r[0]), "id": r[0], "title": r[1], "status": r[2], "created_at": str(r[3]),
             "updated_at": str(r[4]), "tickets": r[5], "customers": r[6]} for r in rows]


def incident_tickets(incident_id: int) -> list[dict[str, Any]]:
    rows = sql.fetchall(
        'SELECT t.id, t.number, t.status, t.channel, t.subject, t.customer_id, it.similarity, it.added_at '
        'FROM "incident_ticket" it JOIN "ticket" t ON t.id = it.ticket_id WHERE it.incident_id = ? ORDER BY t.id',
        [incident_id])
    return [{"id": r[0], "ticket": r[1], "status": r[2], "channel": r[3], "subject": r[4], "customer": r[5],
             "similarity": r[6], "added_at": str(r[7])} for r in rows]


def get_incident(incident_id: int) -> dict[str, Any] | None:
    row = sql.fetchone('SELECT id, title, status, created_at, updated_at, resolved_at FROM "incident" WHERE id = ?',
                       [incident_id])
    if row is None:
        return None
    return {"incident": incident_number(row[0]), "id": row[0], "title": row[1], "status": row[2],
            "created_at": str(row[3]), "updated_at": str(row[4]), "resolved_at": str(row[5]) if row[5] else None}


def set_incident_status(incident_id: int, status: str, now: dt.datetime) -> None:
    sql.update("incident", incident_id, {"status": status, "updated_at": now,
                                         "resolved_at": now if status == "resolved" else None})
