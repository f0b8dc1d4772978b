"""Bulk rows for ``helpline bench --search``: generated conversations written many per statement.

Only for the benchmark's own throw-away database: ticket numbers are
``HL-BENCH-…`` and no thread keys, events or outbox rows are made. The index
is filled by the same triggers as live mail, so loading measures them too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from helpline.store import fastsql as sql


@dataclass
class BenchMessage:
    author_role: str  # customer or agent
    author: str
    sender: str
    text: str
    full_text: str
    language: str | None
    created_at: dt.datetime


@dataclass
class BenchTicket:
    customer_name: str
    address: str
    subject: str
    status: str
    priority: str
    team: str | None
    channel: str
    created_at: dt.datetime
    messages: list[BenchMessage] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def write(tickets: list[BenchTicket], serial: int) -> int:
    """Insert the tickets with their customers, messages and tags (inside the caller's transaction);
    ``serial`` numbers the first ticket; returns the next serial."""
    cids = [
        sql.insert("customer", {"name": t.customer_name, "tier": "standard", "created_at": t.created_at})
        for t in tickets
    ]
    sql.insert_many(
        "identity",
        [
            {"customer_id": cid, "kind": "email", "address": t.address, "created_at": t.created_at}
            for cid, t in zip(cids, tickets, strict=False)
        ],
    )
    tids = []
    for cid, t in zip(cids, tickets, strict=False):
        tids.append(
            sql.insert(
                "ticket",
                {
                    "number": f"HL-BENCH-{serial:07d}",
                    "subject": t.subject,
                    "status": t.status,
                    "priority": t.priority,
                    "team": t.team,
                    "channel": t.channel,
                    "customer_id": cid,
                    "support_address": "support@bench.example",
                    "possible_follow_up": False,
                    "created_at": t.created_at,
                    "updated_at": t.messages[-1].created_at,
                    "last_customer_at": t.created_at,
                    "language": t.messages[0].language,
                },
            )
        )
        serial += 1
    rows = []
    for tid, t in zip(tids, tickets, strict=False):
        for i, msg in enumerate(t.messages):
            rows.append(
                {
                    "ticket_id": tid,
                    "direction": "in" if msg.author_role == "customer" else "out",
                    "author_role": msg.author_role,
                    "author": msg.author,
                    "channel": t.channel,
                    "external_id": f"{tid}.{i}",
                    "message_id": f"<{tid}.{i}@bench.example>",
                    "sender": msg.sender,
                    "subject": t.subject if i == 0 else f"Re: {t.subject}",
                    "text": msg.text,
                    "full_text": msg.full_text,
                    "html": "",
                    "body_hash": "",
                    "raw_blob_key": "",
                    "delivery_status": "",
                    "created_at": msg.created_at,
                    "language": msg.language,
                }
            )
    for i in range(0, len(rows), 200):
        sql.insert_many("message", rows[i : i + 200])
    tag_rows = [
        {"ticket_id": tid, "tag": tag, "actor": "bench", "created_at": t.created_at}
        for tid, t in zip(tids, tickets, strict=False)
        for tag in t.tags
    ]
    if tag_rows:
        sql.insert_many("ticket_tag", tag_rows)
    return serial


def message_count() -> int:
    return sql.fetchone('SELECT COUNT(*) FROM "message"')[0]


def optimise() -> None:
    """What an operator's nightly maintenance does: merge the FTS5 segments (SQLite), refresh the
    planner's statistics (PostgreSQL)."""
    from helpline.store.db import is_sqlite

    if is_sqlite():
        sql.execute("INSERT INTO message_fts (message_fts) VALUES ('optimize')")
        sql.execute("ANALYZE")
    else:
        sql.execute("ANALYZE")


def ensure_database(admin_url: str, name: str) -> None:
    """Make the PostgreSQL database ``name`` (next to ``admin_url``'s) unless it exists: the bench's own,
    so a kept one's slow load is paid once."""
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def drop_database(admin_url: str, name: str) -> None:
    """Drop the bench's database, ending the sessions still on it (the bench's own pool)."""
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        conn.close()
