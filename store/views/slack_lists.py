"""The ticket lists ``/helpline`` answers in Slack (``ingest/channels/slack_commands.py``), and the
availability an agent sets there.

``spam`` lists what waits in the spam status for review (with its count, which
``queue`` repeats, since spam posts nothing to Slack on arrival). The other two
lists hold active tickets only: ``mine``, an agent's, most recently
changed first; ``queue``, the unassigned ones whose thread is in a channel,
nearest SLA due time first (tickets without a running clock after those with
one, oldest first).
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from helpline.store.tickets import routing_state
from helpline.store.models import Event, Ticket, TicketStatus
from helpline.store.channels.slack_state import SlackThread

NO_DUE = dt.datetime(9999, 12, 31)  # tickets without an SLA clock come after those with one


def _active() -> "pw.ModelSelect[Ticket]":
    return Ticket.select().where(Ticket.status.in_(TicketStatus.ACTIVE))


def assigned_to(assignees: list[str], limit: int) -> list[Ticket]:
    """Active tickets assigned to any of ``assignees`` (``slack:U…`` and the agent's email), newest change first."""
    return list(_active().where(Ticket.assignee.in_(assignees)).order_by(Ticket.updated_at.desc()).limit(limit))


def unassigned_in_channel(channel: str, limit: int) -> list[Ticket]:
    """Active unassigned tickets whose Slack thread is in ``channel``, nearest SLA due time first."""
    sla = routing_state.TicketSla
    due = sla.select(pw.fn.MIN(sla.due_at)).where(
        (sla.ticket == Ticket.id) & sla.stopped_at.is_null() & sla.due_at.is_null(False)
    )
    query = (
        _active()
        .join(SlackThread, on=(SlackThread.ticket == Ticket.id))
        .where(Ticket.assignee.is_null() & (SlackThread.channel == channel))
        .order_by(pw.fn.COALESCE(due, NO_DUE), Ticket.created_at)
    )
    return list(query.limit(limit))


def spam(limit: int) -> tuple[int, list[Ticket]]:
    """(how many tickets wait in the spam status for review, the newest ``limit`` of them)."""
    query = Ticket.select().where(Ticket.status == TicketStatus.SPAM)
    return query.count(), list(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit))


def spam_count() -> int:
    """Tickets waiting in the spam status for review."""
    return int(Ticket.select().where(Ticket.status == TicketStatus.SPAM).count())


def record_availability(user: str, agent_email: str | None, status: str, now: dt.datetime) -> None:
    """Set a configured agent's availability (what routing reads when it picks an agent) and audit the change
    (``agent_availability``), inside the caller's transaction."""
    if agent_email is not None:
        routing_state.set_availability(agent_email, status, now)
    Event.create(
        ticket=None,
        actor=f"slack:{user}",
        kind="agent_availability",
        data={"status": status, "via": "slack", "agent": agent_email},
    )
