"""What a merge moves, and the split that moves it back, inside the caller's transaction.

``ticket_ops.merge`` asks ``collect`` what the source holds *before* it writes
anything (so the merge's own events stay on the source), changes the source's
status to ``merged``, then ``move`` carries the messages (attachments follow
their message), the audit events, the thread keys and the participants to the
target, and records it all in a ``ticket_merge`` row: the source's pointer to
its target, and the exact list a ``split`` needs to undo it. Messages that
arrived on the target after the merge stay there, including replies to the
source's thread: they were answered where the agent saw them.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from helpline.router import lifecycle, sla
from helpline.store import fastsql
from helpline.store import similarity_state as state

from . import persist


@dataclass
class Moved:
    messages: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    thread_keys: list[str] = field(default_factory=list)
    participants: list[list[str]] = field(default_factory=list)  # [kind, address, role] new on the target


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


def _set_ticket(table: str, column: str, ids: list, ticket_id: int) -> None:
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        fastsql.execute(f'UPDATE "{table}" SET ticket_id = ? WHERE "{column}" IN ({fastsql.in_marks(len(chunk))})',
                        [ticket_id, *chunk])


def move(source_id: int, target_id: int, moved: Moved, *, previous_status: str, actor: str, reason: str,
         now: dt.datetime) -> int:
    """Carry ``moved`` over to the target; the ticket_merge row's id."""
    _set_ticket("message", "id", moved.messages, target_id)
    _set_ticket("event", "id", moved.events, target_id)
    _set_ticket("thread_key", "key", moved.thread_keys, target_id)
    persist.add_participants(target_id, [(k, a, r) for k, a, r in moved.participants])
    persist.update_ticket(target_id, updated_at=now)
    return state.add_merge(source_id, target_id, actor=actor, reason=reason, previous_status=previous_status,
                           moved=json.dumps(asdict(moved)), now=now)


def split(source, *, now: dt.datetime, settings, actor: str, reason: str = "") -> str:  # noqa: ANN001
    """Undo the merge of ``source`` (a ``ticket_ops.TicketState``): what moved goes back, the source is
    active again with its SLA clocks and its agent (or the team's choice). Returns the target's number."""
    from . import sla_clock, ticket_ops
    from helpline.store import routing_state

    row = state.open_merge(source.id)
    if row is None or source.status != lifecycle.MERGED:
        raise ticket_ops.TicketOpError(f"{source.number} is {source.status}, not merged into another ticket; "
                                       "only a merged ticket can be split off again")
    moved = Moved(**json.loads(row.moved))
    target = persist.get_ticket(row.target_id)
    _set_ticket("message", "id", moved.messages, source.id)
    _set_ticket("event", "id", moved.events, source.id)
    _set_ticket("thread_key", "key", moved.thread_keys, source.id)
    for kind, address, role in moved.participants:
        fastsql.execute('DELETE FROM "participant" WHERE ticket_id = ? AND kind = ? AND address = ? AND role = ?',
                        [target.id, kind, address, role])
    state.mark_split(row.id, actor, now)

    to = row.previous_status if row.previous_status in (lifecycle.NEW, lifecycle.OPEN, lifecycle.IN_PROGRESS) \
        else lifecycle.OPEN
    persist.update_ticket(source.id, status=to, updated_at=now)
    persist.event(source.id, "status_changed", {"from": lifecycle.MERGED, "to": to,
                                                "reason": reason or f"split from {target.number}"}, actor=actor, now=now)
    source.status = to
    cfg = ticket_ops.config(settings)
    first = to == lifecycle.NEW
    sla_clock.start(source.facts(), now, cfg, (sla.FIRST_RESPONSE if first else sla.NEXT_RESPONSE, sla.RESOLUTION),
                    reason="split")
    persist.event(source.id, "split_from", {"ticket": target.number, "reason": reason}, actor=actor, now=now)
    persist.event(target.id, "split", {"from": source.number, "reason": reason, "messages": len(moved.messages)},
                  actor=actor, now=now)
    agent = routing_state.agent(source.assignee) if source.assignee else None
    if agent is not None and routing_state.claim(agent.id, now):
        persist.event(source.id, "assigned", {"agent": source.assignee, "team": source.team,
                                              "reason": "split: back to its agent"}, actor=actor, now=now)
    else:
        if source.assignee:
            persist.update_ticket(source.id, assignee=None)
            source.assignee = None
        ticket_ops.assign_best(source, now=now, settings=settings, actor=actor, why="split")
    return target.number
