"""Slack rows written by the pipeline, inside its transaction.

A new ticket gets its parent message in its team's channel; every later
customer message goes into that thread; a change of status updates the parent.
The rows carry only ids: the Slack sender renders them when it sends (see
``notifier.slack_cards``), so updates of one parent coalesce: while an update
row is still pending, another change needs no row of its own. Changes made
elsewhere (routing, SLA clocks) are caught by the scheduler's ``sweep_updates``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Callable

from helpline.notifier import outbox
from helpline.notifier.slack import slack_blocks
from helpline.notifier.slack.slack_sender import channel_for_team
from helpline.store.outbound import outbox_rows
from helpline.store.views import slack_rows
from helpline.store.channels import slack_state
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.db import run_tx
from helpline.store.envelope import Envelope
from helpline.store.statuses import TicketStatus


def on_customer_message(
    ticket_id: int, message_id: int, action: str, status_before: str, settings: Settings, env: Envelope | None = None
) -> list[int]:
    """Rows for a customer message the pipeline just stored; their ids, for delivery after the commit."""
    if action == "created":
        team, number = slack_rows.team_and_number(ticket_id)
        channel = channel_for_team(settings, team)
        new = outbox.enqueue(
            channel="slack",
            kind="slack_ticket",
            recipient=channel,
            payload={"op": "post_ticket", "ticket_id": ticket_id, "channel": channel},
            unique_key=f"slack:ticket:{ticket_id}",
            ticket=ticket_id,
        )
        ids = [new.id] if new is not None else []
        if env is not None and env.channel == "slack" and env.thread.conversation_id:  # the customer wrote in Slack
            ids += tell_customer(
                ticket_id,
                f"Thanks, we got your message: this is ticket *{number}*. We will answer in this thread.",
                f"slack:ack:{ticket_id}",
            )
        return ids
    ids = []
    post = outbox.enqueue(
        channel="slack",
        kind="slack_message",
        recipient="",
        payload={"op": "post_message", "ticket_id": ticket_id, "message_id": message_id},
        unique_key=f"slack:message:{message_id}",
        ticket=ticket_id,
    )
    if post is not None:
        ids.append(post.id)
    if action == "reopened" or status_before == TicketStatus.WAITING_CUSTOMER:
        update = queue_update(ticket_id)
        if update is not None:
            ids.append(update)
    return ids


def queue_update(ticket_id: int) -> int | None:
    """Have the parent message re-rendered; None when a pending update will already show this change."""
    if outbox_rows.pending_update_of(ticket_id) is not None:
        return None
    new = outbox.enqueue(
        channel="slack",
        kind="slack_update",
        recipient="",
        payload={"op": "update_ticket", "ticket_id": ticket_id},
        unique_key=f"slack:update:{ticket_id}:{uuid.uuid4().hex}",
        ticket=ticket_id,
    )
    return new.id if new is not None else None


# Audit events after which a parent message shows something out of date.
CARD_EVENTS = (
    "status_changed",
    "ticket_reopened",
    "assigned",
    "unassigned",
    "priority_set",
    "priority_changed",
    "category_set",
    "category_corrected",
    "transferred",
    "routed",
    "queued",
    "escalated",
    "merged",
    "merged_into",
    "split",
    "split_from",
    "tags_changed",
    "sla_started",
    "sla_replanned",
    "sla_paused",
    "sla_resumed",
    "sla_stopped",
)


def sweep_updates(limit: int = 200) -> int:
    """Queue a parent update for tickets changed since their parent was last rendered (own transaction).

    Changes made outside the Slack paths (routing, escalation, the SLA clocks,
    lifecycle sweeps) leave an audit event; a ticket with such an event newer
    than its Slack thread's last render and no update on its way gets one.
    Returns how many were queued."""

    def tx() -> int:
        stale = slack_rows.tickets_with_stale_cards(CARD_EVENTS, limit)
        return sum(1 for ticket_id in stale if queue_update(ticket_id) is not None)

    return run_tx(tx, durable=False)


def tell_customer(ticket_id: int, text: str, key: str) -> list[int]:
    """A short line of ours (``text``: our own mrkdwn) in the thread of a customer who wrote in Slack;
    nothing when the ticket's customer did not. Never their text, never an internal note."""
    conversation = slack_rows.customer_conversation(ticket_id)
    if conversation is None:
        return []
    channel, _, root = conversation.removeprefix("conv:slack:").partition(":")
    new = outbox.enqueue(
        channel="slack",
        kind="slack_notice",
        recipient=channel,
        payload={"op": "notice", "channel": channel, "thread_ts": root, "text": text},
        unique_key=key,
        ticket=ticket_id,
    )
    return [new.id] if new is not None else []


NOTIFY_HORIZON = dt.timedelta(days=2)  # when Slack is first configured, older notices are not posted


def sweep_team_notifications(settings: Settings, limit: int = 100, clock: Callable[[], dt.datetime] = utcnow) -> int:
    """Post the team notifications (SLA warnings and breaches, escalations:
    ``notices.team_notification`` events) to Slack: a line in the ticket's
    thread and one in the team's channel (its ``slack_channel``, else
    ``HELPLINE_SLACK_CHANNEL``). Each event once: its outbox rows carry the
    event id in their unique key, and an event with nowhere to go is recorded
    as a suppressed row so it is not looked at again. An event held for the
    team's business hours (``held_until``) gets its rows now, due when the
    calendar opens. Returns the events handled."""
    since = clock() - NOTIFY_HORIZON

    def tx() -> int:
        rows = slack_rows.unposted_team_notifications(since, limit)
        for event_id, ticket_id, data in rows:
            text = slack_blocks.escape(str(data.get("text") or data.get("kind") or "team notification"))
            icon = ":rotating_light:" if str(data.get("kind")) == "sla_breach" else ":warning:"
            channel = str(data.get("slack_channel") or settings.slack_channel or "")
            thread = slack_state.thread_of(ticket_id) if ticket_id else None
            key = f"slack:notify:{event_id}"
            held = _instant(data.get("held_until"))
            if thread is not None:
                outbox.enqueue(
                    channel="slack",
                    kind="slack_notice",
                    recipient=thread[0],
                    ticket=ticket_id,
                    payload={"op": "notice", "channel": thread[0], "thread_ts": thread[1], "text": f"{icon} {text}"},
                    unique_key=key + ":thread",
                    not_before=held,
                )
            if channel:
                outbox.enqueue(
                    channel="slack",
                    kind="slack_notice",
                    recipient=channel,
                    ticket=ticket_id,
                    payload={"op": "notice", "channel": channel, "thread_ts": "", "text": f"{icon} {text}"},
                    unique_key=key,
                    not_before=held,
                )
            else:
                outbox.enqueue(
                    channel="slack",
                    kind="slack_notice",
                    recipient="",
                    ticket=ticket_id,
                    payload={},
                    unique_key=key,
                    suppressed_reason="no Slack channel for this team",
                )
        return len(rows)

    return run_tx(tx, durable=False)


def sweep_merge_suggestions(limit: int = 100) -> int:
    """Show each ``merge_suggested`` event (a near-duplicate of the same customer's open ticket, issue 6)
    in its ticket's Slack thread, with buttons to merge or dismiss (``slack_actions``). Once per event:
    the row's key carries the event id. A ticket whose parent is not posted yet is looked at again next
    round; one that is no longer active, or whose other ticket is not, gets a suppressed row instead.
    Returns the events handled."""
    since = utcnow() - NOTIFY_HORIZON

    def tx() -> int:
        rows = slack_rows.unposted_merge_suggestions(since, limit)
        for event_id, ticket_id, data, number, status in rows:
            other = str(data.get("ticket") or "")
            other_status = slack_rows.status_of_number(other) if other else None
            live = status in ACTIVE and other_status is not None and other_status in ACTIVE
            outbox.enqueue(
                channel="slack",
                kind="slack_suggestion",
                recipient="",
                ticket=ticket_id,
                payload={
                    "op": "merge_suggestion",
                    "ticket_id": ticket_id,
                    "number": number,
                    "other": other,
                    "similarity": data.get("similarity"),
                }
                if live
                else {},
                unique_key=f"slack:suggest:{event_id}",
                suppressed_reason="" if live else "one of the two tickets is no longer active",
            )
        return len(rows)

    return run_tx(tx, durable=False)


def sweep_detach_offers(limit: int = 100) -> int:
    """Offer a Detach button (``slack_actions._detach``) in the thread of each ticket a customer's message
    joined as a near-duplicate; once per join (the row's key carries the event id)."""
    from helpline.store.tickets import similarity_state

    def tx() -> int:
        rows = similarity_state.detach_offers_due(utcnow() - NOTIFY_HORIZON, limit)
        for event_id, ticket_id, message_id, number, similarity in rows:
            outbox.enqueue(
                channel="slack",
                kind="slack_suggestion",
                recipient="",
                ticket=ticket_id,
                payload={
                    "op": "detach_offer",
                    "ticket_id": ticket_id,
                    "number": number,
                    "message": message_id,
                    "similarity": similarity,
                },
                unique_key=f"slack:detach:{event_id}",
            )
        return len(rows)

    return run_tx(tx, durable=False)


ACTIVE = ("new", "open", "in_progress", "waiting_customer")


def _instant(value: object) -> dt.datetime | None:
    """A stored ``...Z`` instant as naive UTC; None when absent or unreadable (then: at once)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        return None
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None) if t.tzinfo else t
