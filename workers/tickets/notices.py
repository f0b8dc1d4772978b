"""Notifications of the SLA clocks and lifecycle timers, inside the caller's transaction.

Every notification is first an event; it becomes an outbox row only where a
sender for it exists:

- ``team_notification`` (event): for the team's channel. The Slack adapter
  turns these events into channel and thread messages
  (``slack_outbox.sweep_team_notifications``; data: team, slack_channel,
  kind, text, held_until). Nothing is sent from here to Slack.
- Email to the team lead (``lead_email`` in the TOML file) or the assignee:
  an internal, auto-generated message.

Both are held while the calendar the ticket's clock counts in is closed
(``hold_until``), and go out once when it opens, unless the team sets
``notify_outside_hours``: nobody is paged at midnight for a clock that is not
even running.
(The reminder to a customer who has not answered is customer-facing: it is
``customer_notices.waiting_reminder``, on the ticket's own channel.)

Texts are plain and repeat nothing the customer wrote, except to internal
recipients (the lead sees the subject).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from helpline.notifier import outbox
from helpline.notifier.message_ids import make_message_id
from helpline.router.business_hours import is_open, next_open
from helpline.store.privacy import pii
from helpline.store.tickets import routing_state
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import SiteConfig

from helpline.store.inbound import audit_events

LABELS = {"first_response": "first response", "next_response": "next response", "resolution": "resolution"}


def _local(t: dt.datetime | None, cfg: SiteConfig, calendar: str) -> str:
    if t is None:
        return "(paused)"
    cal = cfg.calendar(calendar)
    return t.replace(tzinfo=dt.timezone.utc).astimezone(cal.zone).strftime(f"%Y-%m-%d %H:%M {cal.timezone}")


def hold_until(team: str | None, cfg: SiteConfig, now: dt.datetime, calendar: str | None = None) -> dt.datetime | None:
    """When a notice about a ticket may go out, if not now: the next opening of the calendar its
    clock counts in (``calendar``, an SLA row's; else the team's) while that is closed, unless the
    team sets ``notify_outside_hours``. None: at once.

    The clock's calendar, not the team's, because a policy may run its own (an
    urgent policy around the clock on an office-hours team): its breach at
    night is a breach of a running clock and is sent at once."""
    info = routing_state.team_info(team)
    if info is not None and info.notify_outside_hours:
        return None
    cal = cfg.calendar(calendar if calendar is not None else (info.business_hours if info else ""))
    return None if is_open(now, cal) else next_open(now, cal)


def _iso(t: dt.datetime) -> str:
    return t.isoformat() + "Z"


def team_notification(
    ticket_id: int,
    team: str | None,
    kind: str,
    text: str,
    now: dt.datetime,
    data: dict[str, Any] | None = None,
    *,
    hold: dt.datetime | None = None,
) -> None:
    """The hook for the team's channel (Slack): an event, sent by whoever handles that channel,
    not before ``hold`` (``held_until`` in its data) when given."""
    info = routing_state.team_info(team)
    audit_events.event(
        ticket_id,
        "team_notification",
        {
            "team": team,
            "slack_channel": info.slack_channel if info else "",
            "kind": kind,
            "text": text,
            **(data or {}),
            **({"held_until": _iso(hold)} if hold else {}),
        },
        now=now,
    )


def internal_email(
    ticket_id: int,
    number: str,
    to: str,
    subject: str,
    text: str,
    *,
    kind: str,
    unique: str,
    settings: Settings,
    team: str | None,
    now: dt.datetime,
    hold: dt.datetime | None,
) -> int | None:
    """Queue an email to a lead or agent, not before ``hold`` (``hold_until``) when given. What it repeats of
    the customer's words (the subject) has its personal data masked: a lead's mailbox is no place for it."""
    tokens = settings.pii_mask_tokens
    subject, text = pii.mask(subject, tokens=tokens), pii.mask(text, tokens=tokens)
    payload = {
        "from": settings.support_addresses[0],
        "to": to,
        "subject": subject[:300],
        "message_id": make_message_id(settings.mail_domain, number),
        "in_reply_to": "",
        "references": [],
        "headers": {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All", "X-Helpline-Ticket": number},
        "text": text,
    }
    row = outbox.enqueue(
        channel="email",
        kind="notification",
        recipient=to,
        payload=payload,
        unique_key=unique,
        ticket=ticket_id,
        not_before=hold,
    )
    if row is None:
        return None
    audit_events.event(
        ticket_id,
        "notification_queued",
        {"to": to, "kind": kind, "team": team, **({"held_until": _iso(hold)} if hold else {})},
        now=now,
    )
    return row.id


def sla_text(
    number: str,
    subject: str,
    kind: str,
    target: str,
    due_at: dt.datetime | None,
    policy: str,
    cfg: SiteConfig,
    calendar: str,
    team: str | None,
    assignee: str | None,
) -> tuple[str, str]:
    label = LABELS.get(target, target)
    what = "SLA breached" if kind == "breach" else "SLA warning"
    title = f"[{number}] {what}: {label} due {_local(due_at, cfg, calendar)}"
    body = (
        f"{what} on ticket {number}.\n\n"
        f"Subject:  {subject}\n"
        f"Target:   {label} ({policy})\n"
        f"Due:      {_local(due_at, cfg, calendar)}\n"
        f"Team:     {team or '-'}\n"
        f"Assignee: {assignee or 'nobody (in the team queue)'}\n\n"
        f"`helpline tickets show {number}` shows the ticket.\n"
    )
    return title, body
