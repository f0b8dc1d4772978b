"""An agent's button or menu on a ticket's Slack message: take, assign, status, priority, category,
escalate, and a near-duplicate's merge or dismissal.

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
from typing import Any, Callable

from helpline.notifier import outbox
from helpline.notifier.slack.slack_blocks import PRIORITY_LABELS, STATUS_LABELS, escape
from helpline.store.tickets import routing_state
from helpline.store.views import slack_rows
from helpline.store.channels import slack_state
from helpline.store.statuses import TicketStatus

from helpline.router import escalation
from helpline.router.lifecycle import InvalidTransition
from helpline.store.config import Settings

from helpline.store.inbound import audit_events
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import api_ticket_ops
from helpline.workers.tickets import ticket_ops
from helpline.workers.slack_outbox import queue_update, tell_customer

CUSTOMER_NOTICES = {
    TicketStatus.RESOLVED: ":white_check_mark: We consider this resolved. Write here if anything is still open.",
    TicketStatus.CLOSED: "This ticket is closed. Start a new message for anything else.",
    TicketStatus.OPEN: "We are looking into this again.",
}
STATUSES = (TicketStatus.OPEN, TicketStatus.WAITING_CUSTOMER, TicketStatus.RESOLVED, TicketStatus.CLOSED)


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
        change = Change(
            {"assignee": me},
            [("assigned", {"from": state.assignee or None, "to": me, "via": "slack"})],
            f":raising_hand: {who} took this ticket.",
        )
        if state.status == TicketStatus.NEW:
            change.columns["status"] = TicketStatus.OPEN
            change.events.append(
                ("status_changed", {"from": state.status, "to": TicketStatus.OPEN, "reason": "taken by an agent"})
            )
        return change
    if command == "status":
        if value not in STATUSES:
            return Change(refused=f"Unknown status {escape(value)!r}.")
        if value == state.status:
            return Change(refused=f"The ticket is already {STATUS_LABELS[value]}.")
        columns: dict[str, Any] = {"status": value}
        if value == TicketStatus.RESOLVED:
            columns["resolved_at"] = now
        elif value == TicketStatus.CLOSED:
            columns["closed_at"] = now
            if state.resolved_at is None:
                columns["resolved_at"] = now
        elif state.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            columns.update(resolved_at=None, closed_at=None)
        data: dict[str, Any] = {"from": state.status, "to": value, "reason": "set by an agent in Slack"}
        return Change(columns, [("status_changed", data)], f"{who} set the status to {STATUS_LABELS[value]}.")
    if command == "priority":
        if value not in PRIORITY_LABELS:
            return Change(refused=f"Unknown priority {escape(value)!r}.")
        if value == state.priority:
            return Change(refused=f"The priority is already {PRIORITY_LABELS[value]}.")
        data = {"priority": value, "from": state.priority, "reasons": ["set by an agent in Slack"]}
        return Change(
            {"priority": value}, [("priority_set", data)], f"{who} set the priority to {PRIORITY_LABELS[value]}."
        )
    return Change(refused=f"Unknown action {escape(command)!r}.")


def apply(
    ticket_id: int,
    metadata: dict[str, Any],
    user: str,
    agent: str,
    where: dict[str, str],
    key: str,
    now: dt.datetime,
    settings: Settings,
) -> tuple[str, list[int], str]:
    """(action, outbox ids, reason) of one button press, written in the caller's transaction;
    ``key`` (from the press's identity) makes a re-run write no second row.

    Status and priority go through ``ticket_ops`` like every other writer, so
    the lifecycle table is enforced and the SLA clocks pause, stop or re-plan;
    assignment to a configured agent goes through its capacity check, Escalate
    through the escalation rules, Merge through ``ticket_ops.merge``, the
    category menu through the API's labelled-example path. A change one of them
    refuses is answered to the agent, not written. ``where["thread_ts"]`` is the
    ticket's thread; ``where["ts"]`` the message whose button was pressed."""
    state = TicketState(*slack_rows.button_state(ticket_id))
    actor = f"slack:{user}"
    routed = slack_state.routed_agent(user)
    command, value = str(metadata.get("command") or ""), str(metadata.get("value") or "")
    ids: list[int] = []
    try:
        if command in OPERATIONS:
            change = OPERATIONS[command](
                ticket_id,
                value,
                Press(user, agent, actor, where, key, now, settings, str(metadata.get("value_name") or "")),
                ids,
            )
        else:
            change = decide(state, command, value, me=routed.email if routed else actor, agent=agent, now=now)
            if not change.refused:
                _through_ticket_ops(ticket_id, change, actor, settings, now)
    except (InvalidTransition, ticket_ops.TicketOpError) as exc:
        change, ids = Change(refused=f"Not done: {escape(str(exc))}"), []
    if change.refused:
        told = outbox.enqueue(
            channel="slack",
            kind="slack_ephemeral",
            recipient=where["channel"],
            payload={
                "op": "ephemeral",
                "channel": where["channel"],
                "user": user,
                "thread_ts": where["thread_ts"],
                "text": change.refused,
            },
            unique_key=key,
            ticket=ticket_id,
        )
        return "noop", [told.id] if told else [], f"Slack action {command} {value} refused: {change.refused}"
    if change.columns:
        ticket_refs.update(ticket_id, updated_at=now, **change.columns)
    if "assignee" in change.columns:  # the routing issue's agent load follows an explicit take
        if state.assignee and "@" in state.assignee:
            routing_state.release(state.assignee)
        if routed is not None and command == "take":
            routing_state.claim_over_capacity(routed.id, now)
    for kind, data in change.events:
        audit_events.event(ticket_id, kind, data, actor=actor, now=now)
    update = queue_update(ticket_id)
    if update is not None:
        ids.append(update)
    if change.new_status in CUSTOMER_NOTICES:  # a customer who wrote in Slack sees it in their thread
        ids += tell_customer(ticket_id, CUSTOMER_NOTICES[change.new_status], f"{key}:customer")
    ids += _say(ticket_id, where["channel"], where["thread_ts"], change.said, key)
    if where["ts"] != where["thread_ts"] and command in ("merge", "not_duplicate"):  # the suggestion is settled
        done = outbox.enqueue(
            channel="slack",
            kind="slack_notice",
            recipient=where["channel"],
            payload={"op": "replace", "channel": where["channel"], "ts": where["ts"], "text": change.said},
            unique_key=f"{key}:replace",
            ticket=ticket_id,
        )
        ids += [done.id] if done is not None else []
    return "changed", ids, f"Slack action {command} {value}".strip()


def _say(ticket_id: int, channel: str, thread_ts: str, text: str, key: str) -> list[int]:
    said = outbox.enqueue(
        channel="slack",
        kind="slack_notice",
        recipient=channel,
        payload={"op": "notice", "channel": channel, "thread_ts": thread_ts, "text": text},
        unique_key=key,
        ticket=ticket_id,
    )
    return [said.id] if said is not None else []


@dataclass(frozen=True)
class Press:
    """Who pressed what, where: what the operations below need besides the ticket and the value."""

    user: str
    agent: str
    actor: str
    where: dict[str, str]
    key: str
    now: dt.datetime
    settings: Settings
    value_name: str = ""  # the chosen user's name (assign)


def _assign(ticket_id: int, value: str, p: Press, ids: list[int]) -> Change:
    """Assign to the Slack user chosen in the menu (the edge checked that they are an agent). A configured
    agent (TOML ``slack_user``) is assigned through routing, capacity and team respected; an agent known
    only to HELPLINE_SLACK_AGENTS is assigned as ``slack:U…``, as Take does."""
    if not value:
        return Change(refused="Choose an agent.")
    if p.value_name:
        slack_state.see_agent(value, p.value_name)
    name = escape(p.value_name or slack_state.agent_name(value))
    said = f":bust_in_silhouette: {escape(p.agent)} assigned this ticket to {name}."
    target = slack_state.routed_agent(value)
    if target is None:
        status, priority, assignee, _ = slack_rows.button_state(ticket_id)
        change = decide(
            TicketState(status, priority, assignee), "take", "", me=f"slack:{value}", agent=p.agent, now=p.now
        )
        if change.refused:
            return Change(refused=f"This ticket is already assigned to {name}.")
        if status not in ticket_ops.ACTIVE:
            return Change(refused=f"The ticket is {STATUS_LABELS.get(status, status)}; reopen it first.")
        change.said = said
        _through_ticket_ops(ticket_id, change, p.actor, p.settings, p.now)
        return change
    t = ticket_ops.load(ticket_id)
    if t.assignee == target.email:
        return Change(refused=f"This ticket is already assigned to {name}.")
    ticket_ops.assign_to(
        t, target.email, now=p.now, settings=p.settings, actor=p.actor, reason=f"assigned in Slack by {p.agent}"
    )
    return Change(said=said)


def _category(ticket_id: int, value: str, p: Press, ids: list[int]) -> Change:
    """The agent's category: kept as a labelled example for training, as the API does."""
    if not value.strip() or len(value) > 200:
        return Change(refused="Choose a category from the menu.")
    t = ticket_ops.load(ticket_id)
    api_ticket_ops.set_category(t, value, actor=p.actor, now=p.now, via="slack")
    return Change(said=f":label: {escape(p.agent)} set the category to {escape(value)}.")


def _escalate(ticket_id: int, value: str, p: Press, ids: list[int]) -> Change:
    """The ``manual`` escalation rules (default: one priority level up), carried out by the same code as an
    SLA breach's escalation: each step an ``escalated`` event with the agent as actor."""
    t = ticket_ops.load(ticket_id)
    if t.status not in ticket_ops.ACTIVE:
        return Change(refused=f"The ticket is {STATUS_LABELS.get(t.status, t.status)}; only open tickets escalate.")
    cfg = ticket_ops.config(p.settings)
    steps = escalation.manual(cfg.escalations, priority=t.priority, customer_tier=t.customer_tier, team=t.team)
    if not (steps.priority or steps.team or steps.tier or steps.notify):
        return Change(
            refused='The ticket is urgent already and no escalation rule (`when.event = "manual"`) '
            "says what else to do."
        )
    was = (t.priority, t.team, t.assignee)
    from helpline.workers.jobs.ticket_timers import carry_out

    carry_out(
        t,
        steps,
        why=f"escalated in Slack by {p.agent}; rule(s) {', '.join(steps.rules)}",
        actor=p.actor,
        occasion=f"manual:{p.key}",
        settings=p.settings,
        cfg=cfg,
        now=p.now,
    )
    done = []
    if t.priority != was[0]:
        done.append(f"priority {PRIORITY_LABELS.get(t.priority, escape(t.priority))}")
    if t.team != was[1]:
        done.append(f"team {escape(t.team or '')}")
    if t.assignee != was[2]:
        done.append(f"assignee {escape(slack_state.assignee_label(t.assignee) or 'nobody')}")
    if steps.notify:
        done.append("notified " + ", ".join(steps.notify))
    return Change(said=f":arrow_double_up: {escape(p.agent)} escalated this ticket: {'; '.join(done) or 'no change'}.")


def _merge(ticket_id: int, value: str, p: Press, ids: list[int]) -> Change:
    """Merge this ticket into the one the suggestion names (``ticket_ops.merge``), and tell that ticket's thread."""
    t = ticket_ops.load(ticket_id)
    if t.status not in ticket_ops.ACTIVE:
        return Change(refused=f"This ticket is {STATUS_LABELS.get(t.status, t.status)} already; nothing to merge.")
    other = slack_rows.ticket_id_of_number(value.strip().upper())
    if other is None:
        return Change(refused=f"There is no ticket {escape(value)}.")
    target = ticket_ops.load(other)
    ticket_ops.merge(
        t, target, now=p.now, settings=p.settings, actor=p.actor, reason=f"merged in Slack by {p.agent}: near-duplicate"
    )
    there = slack_state.thread_of(target.id)
    if there is not None:
        ids += _say(
            target.id,
            there[0],
            there[1],
            f":link: {escape(p.agent)} merged {t.number} into this ticket.",
            f"{p.key}:target",
        )
        update = queue_update(target.id)
        ids += [update] if update is not None else []
    return Change(said=f":link: {escape(p.agent)} merged this ticket into {escape(target.number)}.")


def _not_duplicate(ticket_id: int, value: str, p: Press, ids: list[int]) -> Change:
    audit_events.event(
        ticket_id, "merge_suggestion_dismissed", {"ticket": value, "via": "slack"}, actor=p.actor, now=p.now
    )
    return Change(said=f":heavy_multiplication_x: {escape(p.agent)}: not a duplicate of {escape(value)}.")


def _detach(ticket_id: int, value: str, p: Press, ids: list[int]) -> Change:
    """The joined message (``value``: its id) becomes its own ticket (``ticket_detach``); it is posted in Slack
    as any new ticket, by the pipeline's Slack stage."""
    from helpline.workers.tickets import ticket_detach

    try:
        message_id = int(value)
    except ValueError:
        return Change(refused="This button names no message.")
    done = ticket_detach.detach(
        ticket_ops.load(ticket_id),
        message_id,
        now=p.now,
        settings=p.settings,
        actor=p.actor,
        reason=f"detached in Slack by {p.agent}",
    )
    ids += done.outbox_ids
    back = (
        f"; this ticket is {STATUS_LABELS.get(done.status_restored, done.status_restored)} again"
        if done.status_restored
        else ""
    )
    return Change(said=f":scissors: {escape(p.agent)} detached message {message_id} into {escape(done.number)}{back}.")


OPERATIONS: dict[str, Callable[[int, str, Press, list[int]], Change]] = {
    "assign": _assign,
    "category": _category,
    "escalate": _escalate,
    "merge": _merge,
    "not_duplicate": _not_duplicate,
    "detach": _detach,
}


def _through_ticket_ops(ticket_id: int, change: Change, actor: str, settings: Settings, now: dt.datetime) -> None:
    """Hand the status and priority parts of ``change`` to their one writer; the rest stays columns."""
    status = change.columns.pop("status", None)
    for col in ("resolved_at", "closed_at"):
        change.columns.pop(col, None)
    priority = change.columns.pop("priority", None)
    change.events = [(k, d) for k, d in change.events if k not in ("status_changed", "priority_set")]
    if status:
        reason = "taken by an agent" if "assignee" in change.columns else "set by an agent in Slack"
        ticket_ops.change_status(
            ticket_ops.load(ticket_id), status, now=now, settings=settings, actor=actor, reason=reason
        )
        change.new_status = status
    if priority:
        ticket_ops.set_priority(
            ticket_ops.load(ticket_id),
            priority,
            now=now,
            settings=settings,
            actor=actor,
            reason="set by an agent in Slack",
        )
        change.new_priority = priority
