"""Roles at Slack's edge: which agent a Slack user is, and whether their click, shortcut or message may act.

A Slack user acts only as the configured agent whose ``slack_user`` they are
(with that agent's role); a user listed only in ``HELPLINE_SLACK_AGENTS`` (or
one of its user groups) is an agent with the ``agent`` role; anyone else is no
agent and acts on nothing. The decision is made before anything is recorded,
so a refused action leaves no inbound row and changes nothing; the refusal is
told to the user alone and names the role needed (``router.permissions``).
"""

from __future__ import annotations

from helpline.router import permissions
from helpline.router.permissions import Decision
from helpline.store.access import agent_roles
from helpline.store.channels import slack_state
from helpline.store.access.agent_roles import ActorInfo

# A ticket button's command -> the action of the permission table.
COMMAND_ACTIONS = {
    "take": "assign_self",
    "status": "status",
    "priority": "triage",
    "category": "triage",
    "escalate": "escalate",
    "merge": "merge",
    "not_duplicate": "merge",
    "detach": "merge",
    "reveal": "see_pii",
}


def actor_of(user: str, listed: bool) -> ActorInfo | None:
    """The agent behind a Slack user: configured (by ``slack_user``), else a listed one with the
    ``agent`` role, else None."""
    configured = agent_roles.by_slack_user(user)
    if configured is not None:
        return configured
    return ActorInfo(email="", name=user, slack_user=user) if listed else None


def action_of(command: str, user: str, chosen: str = "") -> str:
    """The permission a ticket button's command needs (an assignment to oneself is taking it)."""
    if command == "assign":
        return "assign_self" if chosen and chosen == user else "assign_others"
    return COMMAND_ACTIONS.get(command, "assign_others")  # an unknown command needs more, not less


def check(user: str, listed: bool, action: str, channel: str, thread_ts: str, number: str = "") -> Decision:
    """May Slack ``user`` do ``action`` on the ticket of the thread (or the number a block names)?
    Runs off the event loop: it reads the store."""
    actor = actor_of(user, listed)
    tid = slack_state.ticket_of(channel, thread_ts) if channel and thread_ts else None
    facts = (
        agent_roles.ticket_facts(ticket_id=tid)
        if tid is not None
        else (agent_roles.ticket_facts(number=number) if number else None)
    )
    return permissions.decide(actor, action, facts)
