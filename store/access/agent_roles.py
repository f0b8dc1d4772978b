"""Who is acting, and on what: the facts ``router/permissions.py`` decides on (migration 16).

An actor is a configured agent (``[[agents]]`` of the TOML file, synced into
the ``agent`` table), found by email (API personal keys, ``--actor``) or by
``slack_user`` (Slack). Their configured ``role`` ("" when the file gives
none) and the teams whose ``lead_email`` they are travel with them; the
permission module turns those into the role that holds on a given ticket.

A ticket's facts are its team, whether it is second line (escalated to tier 2
or higher: ``ticket_routing.min_tier``) and whether its team keeps second-line
tickets to seniors and leads (``restrict_second_line``).
"""

from __future__ import annotations

from dataclasses import dataclass


from helpline.store import fastsql

SECOND_LINE_TIER = 2


@dataclass(frozen=True)
class ActorInfo:
    email: str  # "" for a Slack user known only through HELPLINE_SLACK_AGENTS, or the operator
    name: str
    role: str = ""  # as configured; "" = the default (agent, lead where lead_email)
    lead_of: frozenset[str] = frozenset()
    slack_user: str = ""
    operator: bool = False  # the CLI without --actor: acts as admin, and events say so

    @property
    def label(self) -> str:
        return self.email or (f"slack:{self.slack_user}" if self.slack_user else self.name)


OPERATOR = ActorInfo(email="", name="operator", role="admin", operator=True)


@dataclass(frozen=True)
class TicketFacts:
    id: int
    number: str
    team: str | None
    assignee: str | None
    second_line: bool
    restricted: bool  # the team keeps second-line tickets to seniors, leads and admins


def _leads(email: str) -> frozenset[str]:
    rows = fastsql.fetchall('SELECT name FROM "team" WHERE lead_email = ? AND active = ?', [email, True])
    return frozenset(r[0] for r in rows)


def by_email(email: str) -> ActorInfo | None:
    """The active configured agent with this email, or None."""
    email = (email or "").strip().lower()
    if not email:
        return None
    row = fastsql.fetchone(
        'SELECT email, name, role, slack_user FROM "agent" WHERE email = ? AND active = ?', [email, True]
    )
    return ActorInfo(row[0], row[1] or row[0], row[2] or "", _leads(row[0]), row[3] or "") if row else None


def by_slack_user(user: str) -> ActorInfo | None:
    """The active configured agent whose ``slack_user`` this is, or None."""
    if not user:
        return None
    row = fastsql.fetchone(
        'SELECT email, name, role, slack_user FROM "agent" WHERE slack_user = ? AND active = ?', [user, True]
    )
    return ActorInfo(row[0], row[1] or row[0], row[2] or "", _leads(row[0]), row[3] or "") if row else None


def ticket_facts(*, ticket_id: int | None = None, number: str | None = None) -> TicketFacts | None:
    """One ticket's team, assignee and second-line state, by id or number; None when there is no such ticket."""
    where, arg = ("t.id = ?", ticket_id) if ticket_id is not None else ("t.number = ?", (number or "").strip().upper())
    row = fastsql.fetchone(
        "SELECT t.id, t.number, t.team, t.assignee, COALESCE(r.min_tier, 0), COALESCE(tm.restrict_second_line, ?) "
        'FROM "ticket" t LEFT JOIN "ticket_routing" r ON r.ticket_id = t.id '
        f'LEFT JOIN "team" tm ON tm.name = t.team WHERE {where}',
        [False, arg],
    )
    if row is None:
        return None
    return TicketFacts(row[0], row[1], row[2], row[3], int(row[4] or 0) >= SECOND_LINE_TIER, bool(row[5]))
