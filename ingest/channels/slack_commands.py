"""``/helpline`` for agents in Slack: ``mine``, ``queue``, ``show HL-…``, ``status``, ``search``.

Answers are ephemeral (only the agent sees them) and read the store
directly: a slash command must be answered within Slack's three seconds, and
reading tickets decides nothing about them. ``status`` sets the availability
routing reads (for an agent configured with ``slack_user`` in the TOML file)
and records it as an audit event (``agent_availability``).
Everything a customer wrote is escaped or plain text, as in every Slack message.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import peewee as pw

from helpline.notifier import slack_blocks
from helpline.notifier.slack_cards import load_card
from helpline.store import models as m
from helpline.store import routing_state, slack_state
from helpline.store.db import run_tx

LIST_MAX = 15
NO_DUE = dt.datetime(9999, 12, 31)  # tickets without an SLA clock come after those with one
AVAILABILITY = ("available", "busy", "away")
USAGE = ("*/helpline* commands:\n"
         "• `mine`: your open tickets\n"
         "• `queue`: unassigned open tickets of this channel, nearest SLA due time first\n"
         "• `show HL-2026-000042`: one ticket\n"
         "• `status available|busy|away`: your availability for new tickets\n"
         "• `search words`: tickets whose subject or messages contain the words")
_NUMBER = re.compile(r"^HL-\d{4}-\d{6,}$", re.IGNORECASE)


def answer(text: str, user: str, channel: str) -> dict[str, Any]:
    """The ephemeral answer (``text`` and ``blocks``) to ``/helpline text`` from agent ``user`` in ``channel``."""
    word, _, rest = text.strip().partition(" ")
    word, rest = word.lower(), rest.strip()
    routed = slack_state.routed_agent(user)
    if word == "mine":
        me = [f"slack:{user}"] + ([routed.email] if routed else [])
        tickets = _active().where(m.Ticket.assignee.in_(me)).order_by(m.Ticket.updated_at.desc())
        return _listing("Your open tickets", tickets, "No open tickets are assigned to you.")
    if word == "queue":
        sla = routing_state.TicketSla
        due = (sla.select(pw.fn.MIN(sla.due_at))
               .where((sla.ticket == m.Ticket.id) & sla.stopped_at.is_null() & sla.due_at.is_null(False)))
        tickets = (_active().join(slack_state.SlackThread, on=(slack_state.SlackThread.ticket == m.Ticket.id))
                   .where(m.Ticket.assignee.is_null() & (slack_state.SlackThread.channel == channel))
                   .order_by(pw.fn.COALESCE(due, NO_DUE), m.Ticket.created_at))
        return _listing("Unassigned in this channel, nearest SLA first", tickets, "Nothing waits unassigned here.")
    if word == "show" and _NUMBER.match(rest):
        ticket = m.Ticket.get_or_none(m.Ticket.number == rest.upper())
        card = load_card(ticket.id) if ticket else None
        if card is None:
            return _text(f"No ticket {slack_blocks.escape(rest)}.")
        return slack_blocks.ticket_message(card, hint=_thread_link(ticket.id))
    if word == "status" and rest.lower() in AVAILABILITY:
        status = rest.lower()

        def record() -> None:
            if routed is not None:  # what routing reads when it picks an agent
                routing_state.set_availability(routed.email, status, m.utcnow())
            m.Event.create(ticket=None, actor=f"slack:{user}", kind="agent_availability",
                           data={"status": status, "via": "slack", "agent": routed.email if routed else None})

        run_tx(record)
        return _text(f"Your status is now *{status}*.")
    if word == "search" and rest:
        words = [w for w in rest.split() if w][:5]
        query = _active(all_statuses=True)
        for w in words:
            like = f"%{w.lower()}%"
            in_messages = m.Message.select(m.Message.ticket).where(pw.fn.LOWER(m.Message.text) ** like)
            query = query.where((pw.fn.LOWER(m.Ticket.subject) ** like) | m.Ticket.id.in_(in_messages))
        return _listing(f"Tickets matching {slack_blocks.escape(' '.join(words))}",
                        query.order_by(m.Ticket.updated_at.desc()), "No ticket matches.")
    return _text(USAGE)


def _active(all_statuses: bool = False) -> pw.ModelSelect:
    query = m.Ticket.select()
    return query if all_statuses else query.where(m.Ticket.status.in_(m.TicketStatus.ACTIVE))


def _text(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]}


def _thread_link(ticket_id: int) -> str:
    thread = slack_state.thread_of(ticket_id)
    if thread is None:
        return ""
    channel, ts = thread
    return f"<https://slack.com/archives/{channel}/p{ts.replace('.', '')}|open the thread>"


def _listing(title: str, query: pw.ModelSelect, empty: str) -> dict[str, Any]:
    tickets = list(query.limit(LIST_MAX + 1))
    if not tickets:
        return _text(empty)
    lines = []
    for t in tickets[:LIST_MAX]:
        status = slack_blocks.STATUS_LABELS.get(t.status, slack_blocks.escape(t.status))
        prio = slack_blocks.PRIORITY_LABELS.get(t.priority, slack_blocks.escape(t.priority))
        link = _thread_link(t.id)
        subject = slack_blocks.escape(slack_blocks.trim(slack_blocks.one_line(t.subject), 80))
        lines.append(f"*{t.number}* {subject} · {status} · {prio}" + (f" · {link}" if link else ""))
    more = "\n…and more; narrow it down with `search`." if len(tickets) > LIST_MAX else ""
    return _text(f"*{title}*\n" + "\n".join(lines) + more)
