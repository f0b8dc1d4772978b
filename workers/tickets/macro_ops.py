"""A macro applied to a ticket: its reply rendered and sent, its actions done, one audit event.

The reply goes through a reply path, never around it: from Slack through the
Slack reply path with its undo window (``slack_replies``, via ``macro``), from
the API and the CLI through the API's reply (``api_ticket_ops.reply``, keyed so
a retried request sends once). The actions (status, priority, team, assignee)
go through ``api_ticket_ops.change``, so the lifecycle's rules hold; tags are
recorded on the audit event (the ticket-tag table belongs to the tags work).
All of it in the caller's transaction: a refused action sends no reply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from helpline.notifier import macro_render
from helpline.store.knowledge import kb_state
from helpline.store.tickets import ticket_lookups
from helpline.store.config import Settings

from helpline.store.inbound import audit_events
from helpline.workers.tickets import api_ticket_ops
from helpline.workers.tickets import ticket_ops


class MacroNotFound(LookupError):
    pass


@dataclass
class Applied:
    name: str
    text: str
    reply: Any  # api_ticket_ops.Reply, or None when the Slack path sends it
    actions: dict[str, Any]


def values(ticket_id: int, agent: str, settings: Settings) -> dict[str, Any]:
    """The tokens a macro may use: customer_name, ticket_number, agent_name, subject, articles."""
    row = ticket_lookups.macro_facts(ticket_id)
    number, subject, customer, team = row if row else ("", "", "", None)
    articles = {}
    for a in kb_state.list_articles():
        if a.audience == "public" and a.team in (None, "", team):
            articles[a.slug] = {"title": a.title, "url": article_url(settings, a.slug, a.language)}
    return {
        "customer_name": customer or "",
        "ticket_number": number,
        "agent_name": agent,
        "subject": subject or "",
        "articles": articles,
    }


def article_url(settings: Settings, slug: str, language: str) -> str:
    """A link to the article that anyone may open (signed; served by ``ingest/kb_pages.py``)."""
    from helpline.store.knowledge import kb_links

    return kb_links.article_url(settings, slug, language)


def render(ticket_id: int, name: str, agent: str, settings: Settings) -> tuple[kb_state.KbMacro, str]:
    row = ticket_lookups.team_and_language(ticket_id)
    macro = kb_state.find_macro(name, team=row[0] if row else None, language=row[1] if row else None)
    if macro is None:
        raise MacroNotFound(f"no macro {name!r} for this ticket's team and language; `helpline macros list` shows them")
    return macro, macro_render.render(macro.body, values(ticket_id, agent, settings))


def do_actions(
    ticket_id: int, actions: dict[str, Any], *, actor: str, settings: Settings, now: dt.datetime, name: str
) -> None:
    changes = {k: actions[k] for k in ("team", "priority", "assignee", "status") if k in actions}
    if changes:
        api_ticket_ops.change(
            ticket_ops.load(ticket_id), changes, actor=actor, settings=settings, now=now, reason=f"macro {name}"
        )


def audit(ticket_id: int, macro: kb_state.KbMacro, *, via: str, actor: str, now: dt.datetime) -> None:
    audit_events.event(
        ticket_id,
        "macro_applied",
        {
            "macro": macro.name,
            "team": macro.team,
            "language": macro.language,
            "via": via,
            "actions": macro.actions,
            "tags": list(macro.actions.get("tags") or []),
        },
        actor=actor,
        now=now,
    )


def apply(
    ticket_id: int, name: str, *, agent: str, actor: str, key: str, settings: Settings, now: dt.datetime, via: str
) -> Applied:
    """Apply from the API or the CLI (caller's transaction): reply, actions, audit."""
    macro, text = render(ticket_id, name, agent, settings)
    reply = api_ticket_ops.reply(ticket_id, text, author=agent, actor=actor, key=key, settings=settings, now=now)
    if not reply.repeated:
        do_actions(ticket_id, macro.actions, actor=actor, settings=settings, now=now, name=macro.name)
        audit(ticket_id, macro, via=via, actor=actor, now=now)
    return Applied(macro.name, text, reply, macro.actions)
