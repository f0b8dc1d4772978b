"""Split: undo a merge, inside the caller's transaction.

What moved is read back from the merge's ``ticket_merge`` row (``merge_ops``
wrote it) and goes back to the source, which is active again with its SLA
clocks and its agent (or its team's choice); the tags the merge added to the
target are taken off it again.
"""

from __future__ import annotations

import datetime as dt
import json

from helpline.router import lifecycle, sla
from helpline.store.tickets import routing_state
from helpline.store.tickets import tags
from helpline.store.tickets import ticket_moves
from helpline.store.tickets import similarity_state as state

from helpline.store.inbound import audit_events
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import sla_clock
from helpline.workers.tickets import ticket_ops


def split(source, *, now: dt.datetime, settings, actor: str, reason: str = "") -> str:  # noqa: ANN001
    """Undo the merge of ``source`` (a ``ticket_ops.TicketState``): what moved goes back, the source is
    active again with its SLA clocks and its agent (or the team's choice). Returns the target's number."""
    row = state.open_merge(source.id)
    if row is None or source.status != lifecycle.MERGED:
        raise ticket_ops.TicketOpError(
            f"{source.number} is {source.status}, not merged into another ticket; "
            "only a merged ticket can be split off again"
        )
    moved = ticket_moves.Moved(**json.loads(row.moved))
    target = ticket_refs.get(row.target_id)
    ticket_moves.carry(moved, source.id)
    ticket_moves.drop_participants(target.id, moved.participants)
    # the tags the merge brought over leave the target with the split (the source still has them)
    _, untagged = tags.change(target.id, [], moved.tags, actor=actor, now=now) if moved.tags else ([], [])
    state.mark_split(row.id, actor, now)

    to = (
        row.previous_status
        if row.previous_status in (lifecycle.NEW, lifecycle.OPEN, lifecycle.IN_PROGRESS)
        else lifecycle.OPEN
    )
    ticket_refs.update(source.id, status=to, updated_at=now)
    audit_events.event(
        source.id,
        "status_changed",
        {"from": lifecycle.MERGED, "to": to, "reason": reason or f"split from {target.number}"},
        actor=actor,
        now=now,
    )
    source.status = to
    cfg = ticket_ops.config(settings)
    first = to == lifecycle.NEW
    sla_clock.start(
        source.facts(), now, cfg, (sla.FIRST_RESPONSE if first else sla.NEXT_RESPONSE, sla.RESOLUTION), reason="split"
    )
    audit_events.event(source.id, "split_from", {"ticket": target.number, "reason": reason}, actor=actor, now=now)
    audit_events.event(
        target.id,
        "split",
        {
            "from": source.number,
            "reason": reason,
            "messages": len(moved.messages),
            **({"tags_removed": untagged} if untagged else {}),
        },
        actor=actor,
        now=now,
    )
    agent = routing_state.agent(source.assignee) if source.assignee else None
    if agent is not None and routing_state.claim(agent.id, now):
        audit_events.event(
            source.id,
            "assigned",
            {"agent": source.assignee, "team": source.team, "reason": "split: back to its agent"},
            actor=actor,
            now=now,
        )
    else:
        if source.assignee:
            ticket_refs.update(source.id, assignee=None)
            source.assignee = None
        ticket_ops.assign_best(source, now=now, settings=settings, actor=actor, why="split")
    return target.number
