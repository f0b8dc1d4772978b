"""``/helpline`` for agents in Slack: ``mine``, ``queue``, ``show HL-…``, ``status``, ``search``, ``spam``.

Spam posts nothing to Slack when it arrives (``workers/tickets/spam_stage.py``), so
``spam`` lists what waits for review with its count, and ``queue`` names the count
when there is any: otherwise agents would learn of spam only from Prometheus.

Answers are ephemeral (only the agent sees them) and read the store
directly: a slash command must be answered within Slack's three seconds, and
reading tickets decides nothing about them. ``status`` sets the availability
routing reads (for an agent configured with ``slack_user`` in the TOML file)
and records it as an audit event (``agent_availability``).
Everything a customer wrote is escaped or plain text, as in every Slack message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from helpline.notifier.slack import slack_blocks
from helpline.notifier.slack.slack_cards import load_card
from helpline.store.views import queries
from helpline.store.tickets import routing_state
from helpline.store.views import slack_lists
from helpline.store.channels import slack_state
from helpline.store.clock import utcnow
from helpline.store.db import run_tx

if TYPE_CHECKING:
    from helpline.store.models import Ticket

LIST_MAX = 15
AVAILABILITY = ("available", "busy", "away")
USAGE = (
    "*/helpline* commands:\n"
    "• `mine`: your open tickets\n"
    "• `queue`: unassigned open tickets of this channel, nearest SLA due time first\n"
    "• `show HL-2026-000042`: one ticket\n"
    "• `status available|busy|away`: your availability for new tickets\n"
    "• `spam`: mail kept as spam, waiting for review (`helpline tickets not-spam NUMBER` releases one)\n"
    '• `search words`: tickets and articles with the words: "a phrase", -excluded, status:open, '
    "team:billing, tag:vip, from:alice@example.com, before:/after:2026-03-01"
)
_NUMBER = re.compile(r"^HL-\d{4}-\d{6,}$", re.IGNORECASE)


def answer(text: str, user: str, channel: str) -> dict[str, Any]:
    """The ephemeral answer (``text`` and ``blocks``) to ``/helpline text`` from agent ``user`` in ``channel``."""
    word, _, rest = text.strip().partition(" ")
    word, rest = word.lower(), rest.strip()
    routed = slack_state.routed_agent(user)
    if word == "mine":
        me = [f"slack:{user}"] + ([routed.email] if routed else [])
        tickets = slack_lists.assigned_to(me, LIST_MAX + 1)
        return _listing("Your open tickets", tickets, "No open tickets are assigned to you.")
    if word == "queue":
        tickets = slack_lists.unassigned_in_channel(channel, LIST_MAX + 1)
        got = _listing("Unassigned in this channel, nearest SLA first", tickets, "Nothing waits unassigned here.")
        return _with_spam_count(got, slack_lists.spam_count())
    if word == "spam":
        return _spam()
    if word == "show" and _NUMBER.match(rest):
        ticket = queries.ticket_by_number(rest)
        card = load_card(ticket.id) if ticket else None
        if card is None:
            return _text(f"No ticket {slack_blocks.escape(rest)}.")
        return slack_blocks.ticket_message(card, hint=_thread_link(ticket.id))
    if word == "status" and rest.lower() in AVAILABILITY:
        status = rest.lower()

        run_tx(lambda: slack_lists.record_availability(user, routed.email if routed else None, status, utcnow()))
        return _text(f"Your status is now *{status}*.")
    if word == "search" and rest:
        return _search(rest, routed)
    return _text(USAGE)


def _search(text: str, routed: Any) -> dict[str, Any]:
    """Full-text search (``store.search``); an agent configured with teams sees only their tickets."""
    from helpline.store.fulltext import search
    from helpline.store.fulltext.search_syntax import QueryError, parse

    try:
        q = parse(text)
    except QueryError as exc:
        return _text(f"Search: {slack_blocks.escape(str(exc))}")
    teams = routing_state.agent_teams(routed.email) if routed is not None else []
    scope = tuple(teams) if teams else None
    res = run_tx(lambda: search.search(q, scope_teams=scope, limit=LIST_MAX), durable=False)
    if not res.tickets and not res.articles:
        run_tx(lambda: search.record_miss(q.normalised(), utcnow()))
        return _text(f"No ticket matches {slack_blocks.escape(slack_blocks.trim(text, 80))}, and no article.")
    lines = []
    for t in res.tickets:
        status = slack_blocks.STATUS_LABELS.get(t.status, slack_blocks.escape(t.status))
        subject = slack_blocks.escape(slack_blocks.trim(slack_blocks.one_line(t.subject), 80))
        snippet = search.render_snippet(slack_blocks.trim(t.snippet, 200), "slack")
        link = _thread_link(t.ticket_id)
        lines.append(f"*{t.number}* {subject} · {status}" + (f" · {link}" if link else "") + f"\n> {snippet}")
    for a in res.articles:
        title = slack_blocks.escape(slack_blocks.trim(a.title, 80))
        lines.append(
            f"📄 *{title}* (`{slack_blocks.escape(a.slug)}`)\n> "
            f"{search.render_snippet(slack_blocks.trim(a.snippet, 200), 'slack')}"
        )
    title = f"Matching {slack_blocks.escape(slack_blocks.trim(text, 80))}"
    return _text(f"*{title}*\n" + "\n".join(lines))


def _spam_line(count: int) -> str:
    return f"🗑 {count} message{'s' if count != 1 else ''} kept as spam, waiting for review: `/helpline spam`"


def _with_spam_count(answer: dict[str, Any], count: int) -> dict[str, Any]:
    return _text(answer["text"] + "\n" + _spam_line(count)) if count else answer


def _spam() -> dict[str, Any]:
    """The spam count and the newest spam tickets: number, subject (escaped, never a link: spam's subjects
    are the spammer's words) and when it came; the sender is not shown."""
    count, tickets = slack_lists.spam(LIST_MAX)
    if not count:
        return _text("*Spam: 0* — nothing waits for review.")
    lines = []
    for t in tickets:
        subject = slack_blocks.escape(slack_blocks.trim(slack_blocks.one_line(t.subject), 80))
        lines.append(f"*{t.number}* {subject} · {t.created_at:%Y-%m-%d %H:%M} UTC")
    more = f"\n…and {count - len(tickets)} more." if count > len(tickets) else ""
    return _text(
        f"*Spam: {count}* waiting for review, newest first\n"
        + "\n".join(lines)
        + more
        + "\nNot spam? `helpline tickets not-spam NUMBER` (or the API) releases it into the normal flow."
    )


def _text(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]}


def _thread_link(ticket_id: int) -> str:
    thread = slack_state.thread_of(ticket_id)
    if thread is None:
        return ""
    channel, ts = thread
    return f"<https://slack.com/archives/{channel}/p{ts.replace('.', '')}|open the thread>"


def _listing(title: str, tickets: list[Ticket], empty: str) -> dict[str, Any]:
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
