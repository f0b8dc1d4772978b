"""What a merge moves between two tickets, and what a split moves back; the ``ticket_merge`` row that
records it is kept by ``similarity_state``.

A merge reads what the source holds (``contents``) before it writes anything, then ``carry`` re-points
the messages (attachments follow their message), audit events and thread keys at the target; a split
carries the same lists back and ``drop_participants`` removes the participants the merge added. All inside
the caller's transaction, through ``fastsql`` like the rest of the ticket's hot writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from helpline.store import fastsql

_CHUNK = 500  # ids per UPDATE: well under SQLite's bound-parameter limit


@dataclass
class Moved:
    """What a merge moved; kept as JSON in the ``ticket_merge`` row so a split can move exactly that back."""

    messages: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    thread_keys: list[str] = field(default_factory=list)
    participants: list[list[str]] = field(default_factory=list)  # [kind, address, role] new on the target
    tags: list[str] = field(default_factory=list)  # the source's tags the merge added to the target


def contents(source_id: int, target_id: int) -> Moved:
    """What ``source`` holds that a merge into ``target`` moves: its messages, events and thread keys, and
    its participants the target does not have yet."""
    have = {
        (r[0], r[1])
        for r in fastsql.fetchall('SELECT kind, address FROM "participant" WHERE ticket_id = ?', [target_id])
    }
    return Moved(
        [r[0] for r in fastsql.fetchall('SELECT id FROM "message" WHERE ticket_id = ? ORDER BY id', [source_id])],
        [r[0] for r in fastsql.fetchall('SELECT id FROM "event" WHERE ticket_id = ? ORDER BY id', [source_id])],
        [r[0] for r in fastsql.fetchall('SELECT key FROM "thread_key" WHERE ticket_id = ?', [source_id])],
        [
            [r[0], r[1], r[2]]
            for r in fastsql.fetchall('SELECT kind, address, role FROM "participant" WHERE ticket_id = ?', [source_id])
            if (r[0], r[1]) not in have
        ],
    )


def _repoint(table: str, column: str, ids: list[int] | list[str], ticket_id: int) -> None:
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        fastsql.execute(
            f'UPDATE "{table}" SET ticket_id = ? WHERE "{column}" IN ({fastsql.in_marks(len(chunk))})',
            [ticket_id, *chunk],
        )


def carry(moved: Moved, ticket_id: int) -> None:
    """Re-point ``moved``'s messages, events and thread keys at ``ticket_id`` (participants are not moved:
    the merge adds them to the target, the split drops them there)."""
    _repoint("message", "id", moved.messages, ticket_id)
    _repoint("event", "id", moved.events, ticket_id)
    _repoint("thread_key", "key", moved.thread_keys, ticket_id)


def drop_participants(ticket_id: int, participants: list[list[str]]) -> None:
    """Remove the ``[kind, address, role]`` participants a merge added to ``ticket_id``."""
    for kind, address, role in participants:
        fastsql.execute(
            'DELETE FROM "participant" WHERE ticket_id = ? AND kind = ? AND address = ? AND role = ?',
            [ticket_id, kind, address, role],
        )
