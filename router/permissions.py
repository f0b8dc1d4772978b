"""What each role may do: one table, one decision, used by every place an agent acts
(Slack, the ticket API's personal keys, the command line).

Roles rank ``agent`` (first line) < ``senior`` (second line) < ``lead`` <
``admin``; each may do what the ones below it may. An agent's role is the one
the TOML file gives; without one it is ``agent``, except on the tickets of a
team whose ``lead_email`` they are, where it is ``lead``. A team with
``restrict_second_line = true`` keeps its second-line tickets (escalated to
tier 2 or higher) to seniors and above, for every action on them.

The table is printed into the README (``markdown_table``) and a test keeps the
two equal, so the documentation cannot drift from what is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpline.store.access.agent_roles import ActorInfo, TicketFacts
from helpline.store.siteconfig.config_file import ROLES

RANK = {role: i for i, role in enumerate(ROLES)}

# action: (the least role that may do it, what it is)
TABLE: dict[str, tuple[str, str]] = {
    "reply": ("agent", "reply to the customer (and withdraw a reply in its undo window)"),
    "note": ("agent", "write an internal note"),
    "status": ("agent", "change the status"),
    "assign_self": ("agent", "take a ticket (assign it to oneself)"),
    "assign_others": ("senior", "assign a ticket to someone else, or unassign them"),
    "transfer": ("senior", "transfer a ticket to another team"),
    "triage": ("agent", "change priority and category"),
    "escalate": ("agent", "escalate"),
    "merge": ("senior", "merge and split tickets"),
    "macros": ("agent", "apply macros"),
    "see_pii": ("senior", "see unmasked personal data (reveal a message)"),
    "export_erase": ("admin", "export and erase a customer's data"),
    "api_keys": ("admin", "manage API keys"),
}
ACTIONS = tuple(TABLE)


class PermissionDenied(Exception):
    """An actor lacks the role an action needs; the message names the role needed."""

    def __init__(self, decision: "Decision") -> None:
        super().__init__(decision.message)
        self.decision = decision


@dataclass(frozen=True)
class Decision:
    allowed: bool
    action: str
    role: str  # the actor's role where it applies (on the ticket's team)
    needed: str  # the least role the action needs here
    why: str = ""  # extra reason (second-line restriction), "" otherwise

    @property
    def message(self) -> str:
        if self.allowed:
            return ""
        what = TABLE[self.action][1]
        extra = f" ({self.why})" if self.why else ""
        return f"You need the {self.needed} role to {what}{extra}; you are {self.role}."


def role_on(actor: ActorInfo, team: str | None) -> str:
    """The actor's role where ``team``'s tickets are concerned: the configured one, or ``agent``, raised to
    ``lead`` in a team they lead."""
    role = actor.role if actor.role in RANK else "agent"
    if team and team in actor.lead_of and RANK[role] < RANK["lead"]:
        return "lead"
    return role


def needed(action: str, ticket: TicketFacts | None = None) -> tuple[str, str]:
    """(least role, reason) for ``action`` on ``ticket``."""
    if action not in TABLE:
        raise KeyError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    least = TABLE[action][0]
    if ticket is not None and ticket.second_line and ticket.restricted and RANK[least] < RANK["senior"]:
        return "senior", f"{ticket.number} is a second-line ticket of team {ticket.team}"
    return least, ""


def decide(actor: ActorInfo | None, action: str, ticket: TicketFacts | None = None) -> Decision:
    """May ``actor`` (None: not an agent at all) do ``action`` on ``ticket`` (None: not about one ticket)?"""
    least, why = needed(action, ticket)
    if actor is None:
        return Decision(False, action, "not an agent", least, why)
    role = role_on(actor, ticket.team if ticket else None)
    return Decision(RANK[role] >= RANK[least], action, role, least, why)


def require(actor: ActorInfo | None, action: str, ticket: TicketFacts | None = None) -> Decision:
    """``decide``, raising ``PermissionDenied`` when refused."""
    d = decide(actor, action, ticket)
    if not d.allowed:
        raise PermissionDenied(d)
    return d


def assign_action(actor: ActorInfo | None, target: str | None, current: str | None = None) -> str:
    """``assign_self`` when ``target`` is the actor (or they unassign themselves), else ``assign_others``."""
    me = {
        x
        for x in (actor.email if actor else "", f"slack:{actor.slack_user}" if actor and actor.slack_user else "")
        if x
    }
    if target:
        return "assign_self" if target.strip().lower() in {x.lower() for x in me} else "assign_others"
    return "assign_self" if current and current in me else "assign_others"


def markdown_table() -> str:
    """The permission table as Markdown, as the README shows it."""
    head = "| action | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES) + "\n"
    rows = []
    for action, (least, what) in TABLE.items():
        marks = " | ".join("yes" if RANK[r] >= RANK[least] else "—" for r in ROLES)
        rows.append(f"| {what} (`{action}`) | {marks} |")
    return head + "\n".join(rows) + "\n"
