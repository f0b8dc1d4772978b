"""What routing and the SLA clocks keep in the database (migration 7).

- ``Team``, ``Agent``, ``TeamMember``: seeded and updated from the TOML file
  (``sync``). The file says who exists; the database also holds what changes
  while the desk runs: an agent's availability and load. A team or agent that
  left the file is marked inactive, not deleted, because tickets name them.
- ``Agent.open_count`` is the agent's load: active tickets assigned to them.
  ``claim`` raises it with one conditional UPDATE (``open_count < capacity``),
  which is what keeps two workers from pushing one agent over capacity: on
  PostgreSQL the second UPDATE waits for the first one's row lock and then
  re-checks the condition; on SQLite writers are serialised anyway.
  ``reconcile_loads`` repairs drift from the tickets themselves.
- ``TicketRouting``: per ticket, whether it waits in its team's queue (and for
  which tier), a routing rule's pinned SLA policy, and the waiting-on-customer
  timers (since when, reminder sent).
- ``TicketSla``: one row per ticket and SLA target (first_response,
  next_response, resolution): the budget in counted (business) seconds, what
  was used before the last pause, and the planned warning and due times, with
  fired-at columns so the scheduler fires each once.

Functions that run inside the pipeline's transaction use ``fastsql`` (hot path).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable, cast

import peewee as pw

from helpline.store import batch_cache, fastsql
from helpline.store.siteconfig.config_file import SiteConfig
from helpline.store.db import is_sqlite
from helpline.store.models import Base, Ticket, TicketStatus, utcnow


class Team(Base):
    id = pw.AutoField()
    name = pw.CharField(max_length=64, unique=True)
    slack_channel = pw.CharField(default="")
    lead_email = pw.CharField(default="")
    addresses = pw.TextField(default="[]")  # JSON list, lower case
    business_hours = pw.CharField(default="")
    categories = pw.TextField(default="[]")
    languages = pw.TextField(default="[]")
    strategy = pw.CharField(default="least_loaded")
    is_default = pw.BooleanField(default=False)
    notify_outside_hours = pw.BooleanField(default=False)
    restrict_second_line = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])  # migration 16
    active = pw.BooleanField(default=True)
    updated_at = pw.DateTimeField(default=utcnow)


class Agent(Base):
    id = pw.AutoField()
    email = pw.CharField(unique=True)
    name = pw.CharField(default="")
    slack_user = pw.CharField(default="")
    tier = pw.IntegerField(default=1)
    capacity = pw.IntegerField(default=10)
    availability = pw.CharField(default="available")
    skills = pw.TextField(default="{}")  # JSON {skill: level}
    open_count = pw.IntegerField(default=0)
    last_assigned_at = pw.DateTimeField(null=True)
    role = pw.CharField(max_length=16, default="", constraints=[pw.SQL("DEFAULT ''")])  # migration 16; "" = agent
    active = pw.BooleanField(default=True)
    updated_at = pw.DateTimeField(default=utcnow)


class TeamMember(Base):
    id = pw.AutoField()
    team_id: int
    agent_id: int
    team = pw.ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, backref="memberships", on_delete="CASCADE")

    class Meta:
        indexes = ((("team", "agent"), True),)


class TicketRouting(Base):
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, primary_key=True, backref="routing", on_delete="CASCADE")
    queued_at = pw.DateTimeField(null=True, index=True)  # set while waiting in the team's queue
    queue_reason = pw.TextField(default="")
    min_tier = pw.IntegerField(default=0)
    sla_policy = pw.CharField(default="")  # pinned by a routing rule's set.sla; "" = chosen by priority
    waiting_since = pw.DateTimeField(null=True, index=True)
    reminded_at = pw.DateTimeField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


class TicketSla(Base):
    id = pw.AutoField()
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, backref="sla", on_delete="CASCADE")
    target = pw.CharField(max_length=20)  # first_response, next_response, resolution
    policy = pw.CharField(default="")
    calendar = pw.CharField(default="")
    budget_s = pw.FloatField()  # counted seconds allowed
    warn_fraction = pw.FloatField(default=0.75)
    consumed_s = pw.FloatField(default=0.0)  # counted seconds used before clock_from
    clock_from = pw.DateTimeField(null=True)  # running since; NULL while paused or stopped
    warn_at = pw.DateTimeField(null=True, index=True)
    due_at = pw.DateTimeField(null=True, index=True)
    warned_at = pw.DateTimeField(null=True)
    breached_at = pw.DateTimeField(null=True)
    stopped_at = pw.DateTimeField(null=True)
    outcome = pw.CharField(default="")  # met, missed, cancelled
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ticket", "target"), True),)


MODELS: list[type[Base]] = [Team, Agent, TeamMember, TicketRouting, TicketSla]
ACTIVE = TicketStatus.ACTIVE


_dt = fastsql.as_datetime  # SQLite hands back text, PostgreSQL a datetime


def _json(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    return json.loads(value) if isinstance(value, str) else value


# ---- teams and agents from the configuration file ---------------------------------------
@dataclass
class SyncReport:
    teams_added: list[str]
    teams_updated: list[str]
    teams_deactivated: list[str]
    agents_added: list[str]
    agents_updated: list[str]
    agents_deactivated: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.__dict__)


def sync(cfg: SiteConfig, now: dt.datetime | None = None) -> SyncReport:
    """Make the teams and agents of the database those of ``cfg`` (inside the caller's transaction).

    Availability and load of existing agents are kept: they are live state,
    not configuration (the file's ``availability`` only seeds a new agent).
    """
    now = now or utcnow()
    report = SyncReport([], [], [], [], [], [])
    have_teams = {t.name: t for t in Team.select()}
    for t in cfg.teams:
        values = dict(
            slack_channel=t.slack_channel,
            lead_email=t.lead_email,
            addresses=json.dumps(list(t.addresses)),
            business_hours=t.business_hours,
            categories=json.dumps(list(t.categories)),
            languages=json.dumps(list(t.languages)),
            strategy=t.strategy,
            is_default=t.default,
            notify_outside_hours=t.notify_outside_hours,
            restrict_second_line=t.restrict_second_line,
            active=True,
        )
        row = have_teams.get(t.name)
        if row is None:
            Team.create(name=t.name, updated_at=now, **values)
            report.teams_added.append(t.name)
        elif any(getattr(row, k) != v for k, v in values.items()):
            Team.update(updated_at=now, **values).where(Team.id == row.id).execute()
            report.teams_updated.append(t.name)
    wanted = {t.name for t in cfg.teams}
    for name, row in have_teams.items():
        if name not in wanted and row.active:
            Team.update(active=False, is_default=False, updated_at=now).where(Team.id == row.id).execute()
            report.teams_deactivated.append(name)

    team_ids = {t.name: t.id for t in Team.select(Team.id, Team.name)}
    have_agents = {a.email: a for a in Agent.select()}
    for a in cfg.agents:
        values = dict(
            name=a.name,
            slack_user=a.slack_user,
            tier=a.tier,
            capacity=a.capacity,
            skills=json.dumps(dict(sorted(a.skills.items()))),
            role=a.role,
            active=True,
        )
        agent_row = have_agents.get(a.email)
        if agent_row is None:
            agent_row = Agent.create(email=a.email, availability=a.availability, updated_at=now, **values)
            report.agents_added.append(a.email)
            changed = False
        else:
            changed = any(getattr(agent_row, k) != v for k, v in values.items())
            if changed:
                Agent.update(updated_at=now, **values).where(Agent.id == agent_row.id).execute()
        want = {team_ids[t] for t in a.teams}
        have = {m.team_id for m in TeamMember.select().where(TeamMember.agent == agent_row.id)}
        if want != have:
            TeamMember.delete().where(
                (TeamMember.agent == agent_row.id) & TeamMember.team.not_in(list(want) or [0])
            ).execute()
            for tid in sorted(want - have):
                TeamMember.create(team=tid, agent=agent_row.id)
            changed = True
        if changed and a.email not in report.agents_added:
            report.agents_updated.append(a.email)
    wanted_agents = {a.email for a in cfg.agents}
    for email, agent_row in have_agents.items():
        if email not in wanted_agents and agent_row.active:
            Agent.update(active=False, updated_at=now).where(Agent.id == agent_row.id).execute()
            TeamMember.delete().where(TeamMember.agent == agent_row.id).execute()
            report.agents_deactivated.append(email)
    return report


@dataclass(frozen=True)
class TeamInfo:
    name: str
    addresses: tuple[str, ...]
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    strategy: str
    default: bool
    business_hours: str
    slack_channel: str
    lead_email: str
    notify_outside_hours: bool


_TEAM_COLS = (
    "name, addresses, categories, languages, strategy, is_default, business_hours, slack_channel, "
    "lead_email, notify_outside_hours"
)


def _team_info(r: tuple[Any, ...]) -> TeamInfo:
    return TeamInfo(
        r[0],
        tuple(_json(r[1], [])),
        tuple(_json(r[2], [])),
        tuple(_json(r[3], [])),
        r[4],
        bool(r[5]),
        r[6] or "",
        r[7] or "",
        r[8] or "",
        bool(r[9]),
    )


def active_teams() -> list[TeamInfo]:
    return list(batch_cache.memoised("active_teams", _active_teams))  # read once per import batch


def _active_teams() -> list[TeamInfo]:
    rows = fastsql.fetchall(f'SELECT {_TEAM_COLS} FROM "team" WHERE active = ? ORDER BY id', [True])
    return [_team_info(r) for r in rows]


def team_info(name: str | None) -> TeamInfo | None:
    if not name:
        return None
    row = fastsql.fetchone(f'SELECT {_TEAM_COLS} FROM "team" WHERE name = ? AND active = ?', [name, True])
    return _team_info(row) if row else None


@dataclass(frozen=True)
class AgentRow:
    id: int
    email: str
    name: str
    tier: int
    capacity: int
    open_count: int
    availability: str
    skills: dict[str, int]
    last_assigned_at: dt.datetime | None
    slack_user: str = ""


_AGENT_COLS = (
    "a.id, a.email, a.name, a.tier, a.capacity, a.open_count, a.availability, a.skills, "
    "a.last_assigned_at, a.slack_user"
)


def _agent_row(r: tuple[Any, ...]) -> AgentRow:
    return AgentRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _json(r[7], {}), _dt(r[8]), r[9] or "")


def team_agents(team: str) -> list[AgentRow]:
    """Every active member of ``team`` (any availability): the pure ranking filters."""
    rows = fastsql.fetchall(
        f'SELECT {_AGENT_COLS} FROM "agent" a JOIN "team_member" tm ON tm.agent_id = a.id '
        'JOIN "team" t ON t.id = tm.team_id WHERE t.name = ? AND a.active = ? ORDER BY a.id',
        [team, True],
    )
    return [_agent_row(r) for r in rows]


def agent(email: str) -> AgentRow | None:
    row = fastsql.fetchone(f'SELECT {_AGENT_COLS} FROM "agent" a WHERE a.email = ?', [email.lower()])
    return _agent_row(row) if row else None


def agent_teams(email: str) -> list[str]:
    rows = fastsql.fetchall(
        'SELECT t.name FROM "team" t JOIN "team_member" tm ON tm.team_id = t.id '
        'JOIN "agent" a ON a.id = tm.agent_id WHERE a.email = ? AND t.active = ? ORDER BY t.id',
        [email.lower(), True],
    )
    return [r[0] for r in rows]


def claim(agent_id: int, now: dt.datetime) -> bool:
    """One more open ticket for the agent, if they are available and under capacity.

    The condition is re-checked by the database under the row's lock, so this
    is the one place capacity is enforced, whatever the callers raced on."""
    cur = fastsql.execute(
        'UPDATE "agent" SET open_count = open_count + 1, last_assigned_at = ? '
        "WHERE id = ? AND active = ? AND availability = 'available' AND open_count < capacity",
        [now, agent_id, True],
    )
    return bool(cur.rowcount == 1)


def claim_over_capacity(agent_id: int, now: dt.datetime) -> None:
    """An operator's explicit assignment: counted even beyond capacity (they decided)."""
    fastsql.execute(
        'UPDATE "agent" SET open_count = open_count + 1, last_assigned_at = ? WHERE id = ?', [now, agent_id]
    )


def release(email: str) -> None:
    """One open ticket less for the agent (never below zero)."""
    fastsql.execute(
        'UPDATE "agent" SET open_count = CASE WHEN open_count > 0 THEN open_count - 1 ELSE 0 END WHERE email = ?',
        [email],
    )


def set_availability(email: str, availability: str, now: dt.datetime) -> bool:
    cur = fastsql.execute(
        'UPDATE "agent" SET availability = ?, updated_at = ? WHERE email = ? AND active = ?',
        [availability, now, email.lower(), True],
    )
    return bool(cur.rowcount == 1)


def reconcile_loads() -> dict[str, tuple[int, int]]:
    """Set every agent's ``open_count`` to their active assigned tickets; {email: (was, now)} of those fixed.

    Runs in the caller's transaction. On PostgreSQL the agent row is locked
    before counting, so a concurrent assignment (which holds that lock until it
    commits) is either counted or not yet made, never half seen."""
    marks = fastsql.in_marks(len(ACTIVE))
    actual = dict(
        fastsql.fetchall(
            f'SELECT assignee, COUNT(*) FROM "ticket" WHERE assignee IS NOT NULL '
            f"AND status IN ({marks}) GROUP BY assignee",
            list(ACTIVE),
        )
    )
    fixed: dict[str, tuple[int, int]] = {}
    for agent_id, email, count in fastsql.fetchall('SELECT id, email, open_count FROM "agent" ORDER BY id'):
        if actual.get(email, 0) == count:
            continue
        if not is_sqlite():
            fastsql.execute('SELECT id FROM "agent" WHERE id = ? FOR UPDATE', [agent_id])
        real = (
            fastsql.fetchone(
                f'SELECT COUNT(*) FROM "ticket" WHERE assignee = ? AND status IN ({marks})', [email, *ACTIVE]
            )
            or (0,)
        )[0]
        was = (fastsql.fetchone('SELECT open_count FROM "agent" WHERE id = ?', [agent_id]) or (0,))[0]
        if real != was:
            fastsql.execute('UPDATE "agent" SET open_count = ? WHERE id = ?', [real, agent_id])
            fixed[email] = (was, real)
    return fixed


def list_agents(team: str | None = None) -> list[dict[str, Any]]:
    q = Agent.select().order_by(Agent.email)
    if team:
        q = q.join(TeamMember).join(Team).where(Team.name == team)
    leads: dict[str, list[str]] = {}
    for t in Team.select(Team.name, Team.lead_email).where(Team.active == True).order_by(Team.name):  # noqa: E712
        leads.setdefault(t.lead_email, []).append(t.name)
    out = []
    for a in q:
        out.append(
            {
                "email": a.email,
                "name": a.name,
                "slack_user": a.slack_user,
                "tier": a.tier,
                "capacity": a.capacity,
                "open": a.open_count,
                "availability": a.availability,
                "skills": _json(a.skills, {}),
                "teams": agent_teams(a.email),
                "active": bool(a.active),
                "last_assigned_at": a.last_assigned_at,
                "role": a.role or "agent",
                "role_configured": bool(a.role),
                "lead_of": leads.get(a.email, []),
            }
        )
    return out


def list_teams() -> list[dict[str, Any]]:
    queued = dict(
        fastsql.fetchall(
            'SELECT t.team, COUNT(*) FROM "ticket_routing" r JOIN "ticket" t '
            "ON t.id = r.ticket_id WHERE r.queued_at IS NOT NULL GROUP BY t.team"
        )
    )
    out = []
    for t in Team.select().order_by(Team.id):
        members = [
            a.email
            for a in Agent.select(Agent.email).join(TeamMember).where(TeamMember.team == t.id).order_by(Agent.email)
        ]
        out.append(
            {
                "name": t.name,
                "strategy": t.strategy,
                "default": bool(t.is_default),
                "addresses": _json(t.addresses, []),
                "categories": _json(t.categories, []),
                "languages": _json(t.languages, []),
                "business_hours": t.business_hours,
                "slack_channel": t.slack_channel,
                "lead_email": t.lead_email,
                "agents": members,
                "queued": queued.get(t.name, 0),
                "active": bool(t.active),
            }
        )
    return out


# ---- ticket routing state (inside the caller's transaction) ---------------------------------
def _ensure_routing(ticket_id: int, now: dt.datetime) -> None:
    # Not fastsql.insert: that returns "id", and this table's key is ticket_id.
    fastsql.execute(
        'INSERT INTO "ticket_routing" (ticket_id, queue_reason, min_tier, sla_policy, updated_at) '
        "VALUES (?, '', 0, '', ?) ON CONFLICT DO NOTHING",
        [ticket_id, now],
    )


def set_routing(ticket_id: int, now: dt.datetime, **values: Any) -> None:
    """Update the ticket's routing row (made on first use)."""
    _ensure_routing(ticket_id, now)
    keys = list(values)
    sets = ", ".join(f'"{k}" = ?' for k in keys)
    fastsql.execute(
        f'UPDATE "ticket_routing" SET {sets}, updated_at = ? WHERE ticket_id = ?', [*values.values(), now, ticket_id]
    )


@dataclass(frozen=True)
class RoutingRow:
    queued_at: dt.datetime | None
    queue_reason: str
    min_tier: int
    sla_policy: str
    waiting_since: dt.datetime | None
    reminded_at: dt.datetime | None


def routing_of(ticket_id: int) -> RoutingRow:
    row = fastsql.fetchone(
        "SELECT queued_at, queue_reason, min_tier, sla_policy, waiting_since, reminded_at "
        'FROM "ticket_routing" WHERE ticket_id = ?',
        [ticket_id],
    )
    if row is None:
        return RoutingRow(None, "", 0, "", None, None)
    return RoutingRow(_dt(row[0]), row[1], row[2], row[3], _dt(row[4]), _dt(row[5]))


def queued_tickets(team: str | None = None, limit: int = 200) -> list[tuple[int, str, int]]:
    """(ticket id, team, min tier) waiting in a queue, most urgent and oldest first."""
    where = "r.queued_at IS NOT NULL AND t.assignee IS NULL AND t.status IN (" + fastsql.in_marks(len(ACTIVE)) + ")"
    params: list[Any] = list(ACTIVE)
    if team:
        where += " AND t.team = ?"
        params.append(team)
    rows = fastsql.fetchall(
        f'SELECT t.id, t.team, r.min_tier FROM "ticket_routing" r JOIN "ticket" t ON t.id = r.ticket_id '
        f"WHERE {where} ORDER BY CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
        f"ELSE 3 END, r.queued_at, t.id LIMIT {int(limit)}",
        params,
    )
    return [(r[0], r[1], r[2]) for r in rows]


# ---- SLA rows ------------------------------------------------------------------------------
@dataclass
class SlaRow:
    id: int
    ticket_id: int
    target: str
    policy: str
    calendar: str
    budget_s: float
    warn_fraction: float
    consumed_s: float
    clock_from: dt.datetime | None
    warn_at: dt.datetime | None
    due_at: dt.datetime | None
    warned_at: dt.datetime | None
    breached_at: dt.datetime | None
    stopped_at: dt.datetime | None
    outcome: str
    created_at: dt.datetime  # when this clock (this plan of the target) started


_SLA_COLS = (
    "id, ticket_id, target, policy, calendar, budget_s, warn_fraction, consumed_s, clock_from, warn_at, "
    "due_at, warned_at, breached_at, stopped_at, outcome, created_at"
)


def _sla(r: tuple[Any, ...]) -> SlaRow:
    return SlaRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        float(r[5]),
        float(r[6]),
        float(r[7]),
        _dt(r[8]),
        _dt(r[9]),
        _dt(r[10]),
        _dt(r[11]),
        _dt(r[12]),
        _dt(r[13]),
        r[14],
        cast(dt.datetime, _dt(r[15])),
    )


def sla_rows(ticket_id: int, *, open_only: bool = False) -> list[SlaRow]:
    q = f'SELECT {_SLA_COLS} FROM "ticket_sla" WHERE ticket_id = ?' + (" AND stopped_at IS NULL" if open_only else "")
    return [_sla(r) for r in fastsql.fetchall(q + " ORDER BY id", [ticket_id])]


def put_sla(ticket_id: int, target: str, now: dt.datetime, **values: Any) -> None:
    """Create or replace the ticket's clock for ``target`` (a fresh plan: fired-at columns cleared)."""
    row = {
        "ticket_id": ticket_id,
        "target": target,
        "policy": "",
        "calendar": "",
        "budget_s": 0.0,
        "warn_fraction": 0.75,
        "consumed_s": 0.0,
        "clock_from": None,
        "warn_at": None,
        "due_at": None,
        "warned_at": None,
        "breached_at": None,
        "stopped_at": None,
        "outcome": "",
        "created_at": now,
        "updated_at": now,
    }
    row.update(values)
    sets = ", ".join(f'"{k}" = excluded."{k}"' for k in row if k not in ("ticket_id", "target"))
    fastsql.insert("ticket_sla", row, on_conflict=f'ON CONFLICT ("ticket_id", "target") DO UPDATE SET {sets}')


def insert_sla(ticket_id: int, now: dt.datetime, rows: list[dict[str, Any]]) -> None:
    """The first clocks of a new ticket, in one statement."""
    fastsql.insert_many(
        "ticket_sla",
        [
            {
                "ticket_id": ticket_id,
                "target": r["target"],
                "policy": r["policy"],
                "calendar": r["calendar"],
                "budget_s": r["budget_s"],
                "warn_fraction": r["warn_fraction"],
                "consumed_s": r["consumed_s"],
                "clock_from": r["clock_from"],
                "warn_at": r["warn_at"],
                "due_at": r["due_at"],
                "warned_at": None,
                "breached_at": None,
                "stopped_at": None,
                "outcome": "",
                "created_at": now,
                "updated_at": now,
            }
            for r in rows
        ],
    )


def mark_reminded(ticket_id: int, now: dt.datetime) -> bool:
    """Record the waiting reminder if none was sent yet; False when another scheduler sent it first."""
    cur = fastsql.execute(
        'UPDATE "ticket_routing" SET reminded_at = ? WHERE ticket_id = ? AND reminded_at IS NULL', [now, ticket_id]
    )
    return bool(cur.rowcount == 1)


def clear_queue(ticket_id: int, now: dt.datetime) -> None:
    """The ticket no longer waits in a queue (no row made when it never did)."""
    fastsql.execute(
        "UPDATE \"ticket_routing\" SET queued_at = NULL, queue_reason = '', min_tier = 0, updated_at = ? "
        "WHERE ticket_id = ? AND queued_at IS NOT NULL",
        [now, ticket_id],
    )


def update_sla(row_id: int, now: dt.datetime, **values: Any) -> None:
    fastsql.update("ticket_sla", row_id, {**values, "updated_at": now})


def mark_fired(row_id: int, column: str, now: dt.datetime) -> bool:
    """Set ``warned_at`` or ``breached_at`` if still empty; False when another scheduler fired it first."""
    assert column in ("warned_at", "breached_at")
    cur = fastsql.execute(
        f'UPDATE "ticket_sla" SET {column} = ?, updated_at = ? WHERE id = ? AND {column} IS NULL '
        "AND stopped_at IS NULL",
        [now, now, row_id],
    )
    return bool(cur.rowcount == 1)


def first_response_due(ticket_id: int) -> dt.datetime | None:
    """When the running first-response clock is due (what a status notice promises); None without one."""
    row = fastsql.fetchone(
        "SELECT due_at FROM \"ticket_sla\" WHERE ticket_id = ? AND target = 'first_response' AND stopped_at IS NULL",
        [ticket_id],
    )
    return _dt(row[0]) if row else None


def due_sla(now: dt.datetime, limit: int = 500) -> list[tuple[SlaRow, str]]:
    """Running clocks whose warning or breach is due and not fired yet: (row, "warning"|"breach")."""
    rows = fastsql.fetchall(
        f'SELECT {_SLA_COLS} FROM "ticket_sla" WHERE stopped_at IS NULL AND clock_from IS NOT NULL AND '
        "((breached_at IS NULL AND due_at <= ?) OR (warned_at IS NULL AND warn_at <= ?)) ORDER BY due_at, id "
        f"LIMIT {int(limit)}",
        [now, now],
    )
    out: list[tuple[SlaRow, str]] = []
    for r in rows:
        row = _sla(r)
        if row.breached_at is None and row.due_at is not None and row.due_at <= now:
            out.append((row, "breach"))
        else:
            out.append((row, "warning"))
    return out


def sla_as_dict(ticket_id: int) -> dict[str, Any]:
    """The ticket's SLA clocks and routing state, for `tickets show`."""

    def ts(v: dt.datetime | None) -> str | None:
        return v.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z") if v else None

    clocks = [
        {
            "target": r.target,
            "policy": r.policy,
            "calendar": r.calendar or "always",
            "budget_s": r.budget_s,
            "consumed_s": round(r.consumed_s, 1),
            "running": r.clock_from is not None,
            "warn_at": ts(r.warn_at),
            "due_at": ts(r.due_at),
            "warned_at": ts(r.warned_at),
            "breached_at": ts(r.breached_at),
            "stopped_at": ts(r.stopped_at),
            "outcome": r.outcome,
        }
        for r in sla_rows(ticket_id)
    ]
    routing = routing_of(ticket_id)
    return {
        "sla": clocks,
        "queued_at": ts(routing.queued_at),
        "queue_reason": routing.queue_reason,
        "waiting_since": ts(routing.waiting_since),
    }


def tickets_with_status(status: str, column: str, before: dt.datetime, limit: int = 200) -> list[int]:
    """Ids of tickets in ``status`` whose ``column`` (resolved_at) is older than ``before``."""
    assert column in ("resolved_at",)
    rows = fastsql.fetchall(
        f'SELECT id FROM "ticket" WHERE status = ? AND {column} <= ? ORDER BY id LIMIT {int(limit)}', [status, before]
    )
    return [r[0] for r in rows]


def waiting_tickets(before: dt.datetime, *, unreminded: bool, limit: int = 200) -> list[int]:
    """Tickets waiting on the customer since before ``before`` (and not reminded yet, if asked)."""
    extra = " AND r.reminded_at IS NULL" if unreminded else ""
    rows = fastsql.fetchall(
        'SELECT t.id FROM "ticket_routing" r JOIN "ticket" t ON t.id = r.ticket_id WHERE t.status = ? '
        f"AND r.waiting_since IS NOT NULL AND r.waiting_since <= ?{extra} ORDER BY t.id LIMIT {int(limit)}",
        [TicketStatus.WAITING_CUSTOMER, before],
    )
    return [r[0] for r in rows]


def ids_of(numbers: Iterable[str]) -> dict[str, int]:
    nums = [n.strip().upper() for n in numbers if n.strip()]
    if not nums:
        return {}
    rows = fastsql.fetchall(f'SELECT number, id FROM "ticket" WHERE number IN ({fastsql.in_marks(len(nums))})', nums)
    return {r[0]: r[1] for r in rows}
