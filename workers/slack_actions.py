"""An agent's button or menu on a ticket's parent message: take it, change its status or priority.

``decide`` is the stage (a plain function: the ticket's state and the command
in, the change out, or why not); ``apply`` writes it inside the pipeline's
transaction: the ticket's columns, an audit event with the Slack user as
actor, a ``chat.update`` of the parent (coalesced with other changes), and a
line in the thread so the team sees who did what. A refusal (the ticket is
already in that state) is told to that agent only.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from helpline.notifier import outbox
from helpline.notifier.slack_blocks import PRIORITY_LABELS, STATUS_LABELS, escape
from helpline.store import fastsql, routing_state, slack_state
from helpline.store import models as m

from helpline.router.lifecycle import InvalidTransition
from helpline.store.config import Settings

from . import persist, ticket_ops
from .slack_outbox import queue_update, tell_customer

CUSTOMER_NOTICES = {
    m.TicketStatus.RESOLVED: ":white_check_mark: We consider this resolved. Write here if anything is still open.",
    m.TicketStatus.CLOSED: "This ticket is closed. Start a new message for anything else.",
    m.TicketStatus.OPEN: "We are looking into this again.",
}
STATUSES = (m.TicketStatus.OPEN, m.TicketStatus.WAITING_CUSTOMER, m.TicketStatus.RESOLVED, m.TicketStatus.CLOSED)


@dataclass(frozen=True)
class TicketState:
    status: str
    priority: str
    assignee: str
    resolved_at: dt.datetime | None = None


@dataclass
class Change:
    columns: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    said: str = ""  # the thread line, our own mrkdwn
    refused: str = ""
    new_status: str = ""  # applied by ticket_ops.change_status, not as a column
    new_priority: str = ""  # applied by ticket_ops.set_priority


def decide(state: TicketState, command: str, value: str, *, me: str, agent: str, now: dt.datetime) -> Change:
    """``me`` is how the pressing agent is named as an assignee (their configured email, else ``slack:U…``)."""
    who = escape(agent)
    if command == "take":
        if state.assignee == me:
            return Change(refused="This ticket is already yours.")
        change = Change({"assignee": me}, [("assigned", {"from": state.assignee or None, "to": me,
                                                         "via": "slack"})], f":raising_hand: {who} took this ticket.")
        if state.status == m.TicketStatus.NEW:
            change.columns["status"] = m.TicketStatus.OPEN
            change.events.append(("status_changed", {"from": state.status, "to": m.TicketStatus.OPEN,
                                                     "reason": "taken by an agent"}))
        return change
    if command == "status":
        if value not in STATUSES:
            return Change(refused=f"Unknown status {escape(value)!r}.")
        if value == state.status:
            return Change(refused=f"The ticket is already {STATUS_LABELS[value]}.")
        columns: dict[str, Any] = {"status": value}
        if value == m.TicketStatus.RESOLVED:
            columns["resolved_at"] = now
        elif value == m.TicketStatus.CLOSED:
            columns["closed_at"] = now
            if state.resolved_at is None:
                columns["resolved_at"] = now
        elif state.status in (m.TicketStatus.RESOLVED, m.TicketStatus.CLOSED):
            columns.update(resolved_at=None, closed_at=None)
        data = {"from": state.status, "to": value, "reason": "set by an agent in Slack"}
        return Change(columns, [("status_changed", data)], f"{who} set the status to {STATUS_LABELS[value]}.")
    if command == "priority":
        if value not in PRIORITY_LABELS:
            return Change(refused=f"Unknown priority {escape(value)!r}.")
        if value == state.priority:
            return Change(refused=f"The priority is already {PRIORITY_LABELS[value]}.")
        data = {"priority": value, "from": state.priority, "reasons": ["set by an agent in Slack"]}
        return Change({"priority": value}, [("priority_set", data)],
                      f"{who} set the priority to {PRIORITY_LABELS[value]}.")
    return Change(refused=f"Unknown action {escape(command)!r}.")


def apply(ticket_id: int, metadata: dict[str, Any], user: str, agent: str, where: dict[str, str], key: str,
          now: dt.datetime, settings: Settings) -> tuple[str, list[int], str]:
    """(action, outbox ids, reason) of one button press, written in the caller's transaction;
    ``key`` (from the press's identity) makes a re-run write no second row.

    Status and priority go through ``ticket_ops`` like every other writer, so
    the lifecycle table is enforced and the SLA clocks pause, stop or re-plan;
    a transition the table refuses is answered to the agent, not written."""
    row = fastsql.fetchone('SELECT status, priority, assignee, resolved_at FROM "ticket" WHERE id = ?', [ticket_id])
    state = TicketState(row[0], row[1], row[2] or "", persist.as_datetime(row[3]))
    actor = f"slack:{user}"
    routed = slack_state.routed_agent(user)
    command, value = str(metadata.get("command") or ""), str(metadata.get("value") or "")
    change = decide(state, command, value, me=routed.email if routed else actor, agent=agent, now=now)
    if not change.refused:
        try:
            _through_ticket_ops(ticket_id, change, actor, settings, now)
        except (InvalidTransition, ticket_ops.TicketOpError) as exc:
            change = Change(refused=f"Not done: {escape(str(exc))}")
    if change.refused:
        told = outbox.enqueue(channel="slack", kind="slack_ephemeral", recipient=where["channel"], payload={
            "op": "ephemeral", "channel": where["channel"], "user": user, "thread_ts": where["ts"],
            "text": change.refused}, unique_key=key, ticket=ticket_id)
        return "noop", [told.id] if told else [], f"Slack action {command} {value} refused: {change.refused}"
    persist.update_ticket(ticket_id, updated_at=now, **change.columns)
    if "assignee" in change.columns:  # the routing issue's agent load follows an explicit take
        if state.assignee and "@" in state.assignee:
            routing_state.release(state.assignee)
        if routed is not None:
            routing_state.claim_over_capacity(routed.id, now)
    for kind, data in change.events:
        persist.event(ticket_id, kind, data, actor=actor, now=now)
    ids = []
    update = queue_update(ticket_id)
    if update is not None:
        ids.append(update)
    if change.new_status in CUSTOMER_NOTICES:  # a customer who wrote in Slack sees it in their thread
        ids += tell_customer(ticket_id, CUSTOMER_NOTICES[change.new_status], f"{key}:customer")
    said = outbox.enqueue(channel="slack", kind="slack_notice", recipient=where["channel"], payload={
        "op": "notice", "channel": where["channel"], "thread_ts": where["ts"], "text": change.said},
        unique_key=key, ticket=ticket_id)
    if said is not None:
        ids.append(said.id)
    return "changed", ids, f"Slack action {command} {value}".strip()


def _through_ticket_ops(ticket_id: int, change: Change, actor: str, settings: Settings, now: dt.datetime) -> None:
    """Hand the status and priority parts of ``change`` to their one writer; the rest stays columns."""
    status = change.columns.pop("status", None)
    for col in ("resolved_at", "closed_at"):
        change.columns.pop(col, None)
    priority = change.columns.pop("priority", None)
    change.events = [(k, d) for k, d in change.events if k not in ("status_changed", "priority_set")]
    if status:
        reason = "taken by an agent" if "assignee" in change.columns else "set by an agent in Slack"
        ticket_ops.change_status(ticket_ops.load(ticket_id), status, now=now, settings=settings, actor=actor,
                                 reason=reason)
        change.new_status = status
    if priority:
        ticket_ops.set_priority(ticket_ops.load(ticket_id), priority, now=now, settings=settings, actor=actor,
                                reason="set by an agent in Slack")
        change.new_priority = priority
