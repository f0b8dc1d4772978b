"""Ticket tags: free-form labels (``vip``, ``refund``, ``bug/1234``) in ``ticket_tag`` (migration 14).

Stored lower case (``search_syntax.normal_tag``); the search index picks a change
up through its triggers. All functions run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from helpline.store import fastsql as sql
from helpline.store.fulltext.search_syntax import normal_tag

MAX_TAGS = 50  # per ticket: labels, not a document


class TagError(ValueError):
    pass


class TooManyTags(TagError):
    pass


def tags_of(ticket_id: int) -> list[str]:
    return [r[0] for r in sql.fetchall('SELECT tag FROM "ticket_tag" WHERE ticket_id = ? ORDER BY tag', [ticket_id])]


def tags_by_ticket(ticket_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in range(0, len(ticket_ids), 500):
        chunk = ticket_ids[i : i + 500]
        for tid, tag in sql.fetchall(
            f'SELECT ticket_id, tag FROM "ticket_tag" WHERE ticket_id IN '
            f"({sql.in_marks(len(chunk))}) ORDER BY ticket_id, tag",
            chunk,
        ):
            out.setdefault(tid, []).append(tag)
    return out


def normalise(tags: Iterable[str]) -> list[str]:
    """The tags as stored; ``TagError`` naming the first that is not a tag."""
    out = []
    for t in tags:
        try:
            out.append(normal_tag(t) if isinstance(t, str) else normal_tag(""))
        except ValueError as exc:
            raise TagError(str(exc)) from None
    return list(dict.fromkeys(out))


def carry_over(source_id: int, target_id: int, *, actor: str, now: dt.datetime) -> list[str]:
    """A merge: the source's tags that the target lacks are added to it (the source keeps its own), up to
    MAX_TAGS on the target; the tags added, which a split takes away again."""
    have = set(tags_of(target_id))
    room = max(0, MAX_TAGS - len(have))
    added = [t for t in tags_of(source_id) if t not in have][:room]
    for t in added:
        sql.execute(
            'INSERT INTO "ticket_tag" (ticket_id, tag, actor, created_at) VALUES (?, ?, ?, ?)',
            [target_id, t, actor[:255], now],
        )
    return added


def change(
    ticket_id: int, add: Iterable[str], remove: Iterable[str], *, actor: str, now: dt.datetime
) -> tuple[list[str], list[str]]:
    """Add and remove tags (a tag in both lists is removed); (added, removed): only those that changed
    anything. ``TooManyTags`` past MAX_TAGS."""
    add, remove = normalise(add), normalise(remove)
    add = [t for t in add if t not in remove]  # named in both lists: removing wins
    have = set(tags_of(ticket_id))
    added = [t for t in add if t not in have]
    removed = [t for t in remove if t in have]
    if len(have) + len(added) - len(removed) > MAX_TAGS:
        raise TooManyTags(f"a ticket has at most {MAX_TAGS} tags; remove some first")
    for t in added:
        sql.execute(
            'INSERT INTO "ticket_tag" (ticket_id, tag, actor, created_at) VALUES (?, ?, ?, ?)',
            [ticket_id, t, actor[:255], now],
        )
    for t in removed:
        sql.execute('DELETE FROM "ticket_tag" WHERE ticket_id = ? AND tag = ?', [ticket_id, t])
    return added, removed
