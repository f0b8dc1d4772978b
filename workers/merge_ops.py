"""What a merge moves, inside the caller's transaction (``ticket_split`` moves it back).

``ticket_ops.merge`` asks ``collect`` what the source holds *before* it writes
anything (so the merge's own events stay on the source), changes the source's
status to ``merged``, then ``move`` carries the messages (attachments follow
their message), the audit events, the thread keys and the participants to the
target (the source's tags are added to the target's, the source keeping its
own), and records it all in a ``ticket_merge`` row: the source's pointer to
its target, and the exact list a ``split`` needs to undo it. Messages that
arrived on the target after the merge stay there, including replies to the
source's thread: they were answered where the agent saw them.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from helpline.store import fastsql, tags
from helpline.store import similarity_state as state

from . import persist


@dataclass
class Moved:
    messages: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    thread_keys: list[str] = field(default_factory=list)
    participants: list[list[str]] = field(default_factory=list)  # [kind, address, role] new on the target
    tags: list[str] = field(default_factory=list)  # the source's tags the merge added to the target


def collect(source_id: int, target_id: int) -> Moved:
    have = {(r[0], r[1]) for r in fastsql.fetchall('SELECT kind, address FROM "participant" WHERE ticket_id = ?',
                                                   [target_id])}
    return Moved(
        [r[0] for r in fastsql.fetchall('SELECT id FROM "message" WHERE ticket_id = ? ORDER BY id', [source_id])],
        [r[0] for r in fastsql.fetchall('SELECT id FROM "event" WHERE ticket_id = ? ORDER BY id', [source_id])],
        [r[0] for r in fastsql.fetchall('SELECT key FROM "thread_key" WHERE ticket_id = ?', [source_id])],
        [[r[0], r[1], r[2]] for r in fastsql.fetchall(
            'SELECT kind, address, role FROM "participant" WHERE ticket_id = ?', [source_id]) if (r[0], r[1]) not in have],
    )


def move_rows(table: str, column: str, ids: list, ticket_id: int) -> None:
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        fastsql.execute(f'UPDATE "{table}" SET ticket_id = ? WHERE "{column}" IN ({fastsql.in_marks(len(chunk))})',
                        [ticket_id, *chunk])


def move(source_id: int, target_id: int, moved: Moved, *, previous_status: str, actor: str, reason: str,
         now: dt.datetime) -> int:
    """Carry ``moved`` over to the target; the ticket_merge row's id."""
    move_rows("message", "id", moved.messages, target_id)
    move_rows("event", "id", moved.events, target_id)
    move_rows("thread_key", "key", moved.thread_keys, target_id)
    persist.add_participants(target_id, [(k, a, r) for k, a, r in moved.participants])
    moved.tags = tags.carry_over(source_id, target_id, actor=actor, now=now)
    persist.update_ticket(target_id, updated_at=now)
    return state.add_merge(source_id, target_id, actor=actor, reason=reason, previous_status=previous_status,
                           moved=json.dumps(asdict(moved)), now=now)
