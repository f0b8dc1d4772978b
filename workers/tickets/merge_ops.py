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
from dataclasses import asdict

from helpline.store.tickets import tags
from helpline.store.tickets import similarity_state as state
from helpline.store.tickets import ticket_moves
from helpline.store.tickets.ticket_moves import Moved

from helpline.store.inbound import thread_state
from helpline.store.tickets import ticket_refs


def collect(source_id: int, target_id: int) -> Moved:
    """What the source holds, read before the merge writes anything (its own events stay on the source)."""
    return ticket_moves.contents(source_id, target_id)


def move(
    source_id: int, target_id: int, moved: Moved, *, previous_status: str, actor: str, reason: str, now: dt.datetime
) -> int:
    """Carry ``moved`` over to the target; the ticket_merge row's id."""
    ticket_moves.carry(moved, target_id)
    thread_state.add_participants(target_id, [(k, a, r) for k, a, r in moved.participants])
    moved.tags = tags.carry_over(source_id, target_id, actor=actor, now=now)
    ticket_refs.update(target_id, updated_at=now)
    return state.add_merge(
        source_id,
        target_id,
        actor=actor,
        reason=reason,
        previous_status=previous_status,
        moved=json.dumps(asdict(moved)),
        now=now,
    )
