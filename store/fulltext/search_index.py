"""Writing to the search index from outside the triggers: articles, and the full rebuild.

Messages and tickets are indexed by triggers (``store/migrations/v014_search.py``); articles
are put in by the knowledge base (``index_article`` when an article is added or
changed, ``remove_article`` when it is retired), inside the caller's
transaction, so an article is searchable exactly when its change commits.
``reindex`` rebuilds everything, in batches, for a database that existed
before migration 14 or an index suspected to be out of step.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from helpline.store import fastsql as sql
from helpline.store.db import is_sqlite, run_tx

AUDIENCES = ("public", "internal")


def index_article(
    slug: str,
    language: str,
    title: str,
    body: str,
    *,
    questions: Iterable[str] = (),
    tags: Iterable[str] = (),
    audience: str = "public",
    team: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Add or replace the article (``slug``, ``language``) in the index (``body`` is its Markdown)."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    row = [
        title,
        body,
        "\n".join(questions),
        " ".join(tags),
        audience,
        team,
        now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
    ]
    got = sql.fetchone('SELECT id FROM "search_article" WHERE slug = ? AND language = ?', [slug, language])
    if got:
        sql.execute(
            'UPDATE "search_article" SET title = ?, body = ?, questions = ?, tags = ?, audience = ?, team = ?, '
            "updated_at = ? WHERE id = ?",
            [*row, got[0]],
        )
    else:
        sql.execute(
            'INSERT INTO "search_article" (slug, language, title, body, questions, tags, audience, team, '
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [slug, language, *row],
        )


def remove_article(slug: str, language: str) -> bool:
    """Take the article out of the index; whether it was there."""
    return bool(
        sql.fetchall('DELETE FROM "search_article" WHERE slug = ? AND language = ? RETURNING id', [slug, language])
    )


def counts() -> dict[str, int]:
    """Rows of each kind that the index covers (for the reindex progress bar)."""
    return {
        "messages": sql.fetchone('SELECT COUNT(*) FROM "message"')[0],
        "tickets": sql.fetchone('SELECT COUNT(*) FROM "ticket"')[0],
        "articles": sql.fetchone('SELECT COUNT(*) FROM "search_article"')[0],
    }


def reindex(progress: Callable[[str, int], None] = lambda kind, n: None, batch: int = 2000) -> dict[str, int]:
    """Rebuild the whole index; ``progress(kind, rows_done)`` after each batch. Each batch is its own
    transaction, so the desk keeps running (on SQLite the FTS5 ``rebuild`` is one statement per table)."""
    done = {"messages": 0, "tickets": 0, "articles": 0}
    if is_sqlite():
        for table, kind in (("message_fts", "messages"), ("article_fts", "articles")):
            run_tx(lambda table=table: sql.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')"))
            done[kind] = counts()[kind]
            progress(kind, done[kind])
        last = 0
        while True:

            def step(last: int = last) -> list[int]:
                ids = [
                    r[0]
                    for r in sql.fetchall('SELECT id FROM "ticket" WHERE id > ? ORDER BY id LIMIT ?', [last, batch])
                ]
                if ids:
                    marks = sql.in_marks(len(ids))
                    sql.execute(f"DELETE FROM ticket_fts WHERE rowid IN ({marks})", ids)
                    sql.execute(
                        "INSERT INTO ticket_fts (rowid, subject, tags, customer) SELECT t.id, t.subject, "
                        "COALESCE((SELECT group_concat(tag, ' ') FROM ticket_tag WHERE ticket_id = t.id), ''), "
                        "COALESCE((SELECT c.name || ' ' || COALESCE((SELECT group_concat(i.address, ' ') FROM identity i "
                        "WHERE i.customer_id = c.id), '') FROM customer c WHERE c.id = t.customer_id), '') "
                        f"FROM ticket t WHERE t.id IN ({marks})",
                        ids,
                    )
                return ids

            ids = run_tx(step)
            if not ids:
                break
            last = ids[-1]
            done["tickets"] += len(ids)
            progress("tickets", done["tickets"])
        return done
    # PostgreSQL: touching the indexed columns makes the BEFORE triggers compute the vectors again
    for table, kind, touch in (
        ("message", "messages", "subject = subject"),
        ("ticket", "tickets", "subject = subject"),
        ("search_article", "articles", "title = title"),
    ):
        last = 0
        while True:

            def step(last: int = last, table: str = table, touch: str = touch) -> list[int]:
                return [
                    r[0]
                    for r in sql.fetchall(
                        f'UPDATE "{table}" SET {touch} WHERE id IN (SELECT id FROM "{table}" WHERE id > ? ORDER BY id '
                        "LIMIT ?) RETURNING id",
                        [last, batch],
                    )
                ]

            ids = run_tx(step)
            if not ids:
                break
            last = max(ids)
            done[kind] += len(ids)
            progress(kind, done[kind])
    return done


def forget(ticket_ids: Iterable[int]) -> None:
    """After erasure or retention blanked or deleted these tickets' texts: purge the old terms.

    The triggers already changed the index's content with the texts; but SQLite's FTS5
    keeps a deleted term in its segment pages until they are merged, so both message and
    ticket indexes are rebuilt (run it with ``secure_delete`` on, and the freed pages are
    zeroed). PostgreSQL's tsvector columns are rewritten by the triggers; the caller's
    VACUUM takes the old row versions."""
    if not list(ticket_ids) or not is_sqlite():
        return
    for table in ("message_fts", "ticket_fts"):
        run_tx(lambda table=table: sql.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')"))
