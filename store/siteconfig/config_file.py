"""The TOML configuration file (``HELPLINE_CONFIG_FILE``): teams, agents, business
hours, routing rules, SLA policies and escalation rules.

Structured data that does not fit one ``HELPLINE_*`` variable lives here. The
loader is a pure function from text to frozen dataclasses (``parse``), so that a
mistake is found by ``helpline teams sync`` or at start-up, never by a worker in
the middle of routing a ticket. Every error names the file, the table and the
key, because an operator has to find the line. Unknown keys are errors too: a
misspelt ``capacty`` silently ignored would give an agent the default capacity.

``site_config(settings)`` is what the workers call for every new ticket: it
re-reads the file only when its modification time or size changed.

Durations are strings with units ("90s", "15m", "4h", "1h30m", "2d"); a day is
24 hours of *counted* time, so with an office calendar write "40h", not "5d".
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpline.store.config_errors import ConfigError
from helpline.store import domains as blocklist_entry
from helpline.store.config_errors import kind as _kind
from helpline.store.siteconfig.priority_config import DEFAULT as PRIORITY_DEFAULT, PriorityConfig, parse_priority
from helpline.store.siteconfig.webhook_config import WebhookSource, parse_webhook_sources
from helpline.store.siteconfig.retention_config import parse_policies

if TYPE_CHECKING:
    from helpline.store.config import Settings

log = logging.getLogger("helpline.store")

# The priority levels, lowest first (router.priority.LEVELS says the same; store imports no router).
PRIORITIES = ("low", "medium", "high", "urgent")
STRATEGIES = ("round_robin", "least_loaded", "skills")
AVAILABILITY = ("available", "busy", "away", "offline")
ROLES = ("agent", "senior", "lead", "admin")  # what an agent may do: router/permissions.py
SLA_TARGETS = ("first_response", "next_response", "resolution")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NOTIFY = ("lead", "team", "assignee")

# Built-in SLA targets per priority (issue 7): (first response, resolution).
DEFAULT_SLA: dict[str, tuple[dt.timedelta, dt.timedelta]] = {
    "urgent": (dt.timedelta(minutes=15), dt.timedelta(hours=2)),
    "high": (dt.timedelta(hours=1), dt.timedelta(hours=8)),
    "medium": (dt.timedelta(hours=4), dt.timedelta(hours=24)),
    "low": (dt.timedelta(hours=8), dt.timedelta(hours=48)),
}
DEFAULT_WARN_AT = 0.75


class ConfigFileError(ConfigError):
    """A problem in the TOML file; the message names the file, the table and the key."""

    def __init__(self, source: str, table: str, key: str, problem: str) -> None:
        self.source, self.table, self.key, self.problem = source, table, key, problem
        where = f"{source}: [{table}]" + (f" key {key!r}" if key else "")
        super().__init__(f"{where}: {problem}")


# ---- the dataclasses ----------------------------------------------------------------
@dataclass(frozen=True)
class Calendar:
    """Weekly opening hours in a time zone, minus holidays (local dates)."""

    name: str
    timezone: str
    week: tuple[tuple[tuple[int, int], ...], ...]  # Monday..Sunday: (start, end) in minutes after local midnight
    holidays: frozenset[dt.date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def always_open(self) -> bool:
        """Counts every second (24/7, no holidays): business time is wall time."""
        return not self.holidays and all(day == ((0, 1440),) for day in self.week)


ALWAYS = Calendar("always", "UTC", tuple(((0, 1440),) for _ in range(7)))


@dataclass(frozen=True)
class Team:
    name: str
    addresses: tuple[str, ...] = ()  # support addresses this team owns (lower case)
    slack_channel: str = ""
    lead_email: str = ""
    business_hours: str = ""  # calendar name; "" = always open
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    strategy: str = "least_loaded"
    default: bool = False
    notify_outside_hours: bool = False  # email the lead at night too (else held until the calendar opens)
    restrict_second_line: bool = False  # tickets escalated to tier 2+ only for seniors, leads and admins


@dataclass(frozen=True)
class Agent:
    email: str  # the agent's identity (lower case)
    name: str = ""
    slack_user: str = ""
    teams: tuple[str, ...] = ()
    skills: Mapping[str, int] = field(default_factory=dict)  # skill (category or language) -> level 1..5
    tier: int = 1
    capacity: int = 10
    availability: str = "available"  # initial value only; the database keeps the live one
    role: str = ""  # "" = agent (lead in a team whose lead_email it is); see router/permissions.py


@dataclass(frozen=True)
class RoutingRule:
    """First matching rule wins; all conditions of ``when`` must hold."""

    name: str
    category: tuple[str, ...] = ()
    recipient: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    sender_domain: tuple[str, ...] = ()
    customer_tier: tuple[str, ...] = ()
    subject_matches: str = ""
    set_team: str = ""
    set_priority: str = ""
    set_sla: str = ""


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for the tickets it applies to; the most specific matching policy wins."""

    name: str
    first_response: dt.timedelta
    resolution: dt.timedelta
    priority: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    customer_tier: tuple[str, ...] = ()
    business_hours: str = ""  # "" = the team's calendar
    warn_at: float = DEFAULT_WARN_AT


@dataclass(frozen=True)
class EscalationRule:
    name: str
    on: str  # warning, breach or manual (an agent's Escalate button)
    target: tuple[str, ...] = ()  # SLA targets it applies to; () = all
    priority: tuple[str, ...] = ()
    customer_tier: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    set_priority: str = ""
    raise_priority: bool = False
    to_team: str = ""
    to_tier: int = 0
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteConfig:
    source: str = ""
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    teams: tuple[Team, ...] = ()
    agents: tuple[Agent, ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    policies: tuple[SlaPolicy, ...] = ()
    warn_at: float = DEFAULT_WARN_AT
    escalations: tuple[EscalationRule, ...] = ()
    templates_dir: str = ""
    priority: PriorityConfig = PRIORITY_DEFAULT  # [priority]: rules and tiers (store/siteconfig/priority_config.py)
    blocked_senders: tuple[
        str, ...
    ] = ()  # [blocklist] senders: their mail becomes spam (workers/tickets/spam_stage.py)
    blocked_domains: tuple[str, ...] = ()  # [blocklist] domains (and their subdomains)

    def team(self, name: str | None) -> Team | None:
        return next((t for t in self.teams if t.name == name), None) if name else None

    @property
    def default_team(self) -> Team | None:
        return next((t for t in self.teams if t.default), None)

    def calendar(self, name: str) -> Calendar:
        """The named calendar; "" (none configured) counts all the time."""
        return self.calendars.get(name, ALWAYS) if name else ALWAYS

    def team_calendar(self, team: str | None) -> Calendar:
        t = self.team(team)
        return self.calendar(t.business_hours) if t else ALWAYS

    def policy(self, name: str) -> SlaPolicy | None:
        return next((p for p in self.policies if p.name == name), None)


EMPTY = SiteConfig()


# ---- small parsers ----------------------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, source: str, table: str) -> None:
        self.source, self.table = source, table

    def fail(self, key: str, problem: str) -> ConfigFileError:
        return ConfigFileError(self.source, self.table, key, problem)

    def only(self, data: Mapping[str, Any], allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(key, f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def tables(self, data: Mapping[str, Any], key: str) -> list[Any]:
        """An array of tables (``[[table.key]]``), empty when absent."""
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(
                key,
                f"must be an array of tables ([[{self.table + '.' if self.table else ''}{key}]]), not {_kind(value)}",
            )
        return value

    def table_of(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}")
        return value

    def string(self, data: Mapping[str, Any], key: str, default: str = "", *, required: bool = False) -> str:
        if key not in data:
            if required:
                raise self.fail(key, "is required")
            return default
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        return value.strip()

    def strings(self, data: Mapping[str, Any], key: str, *, lower: bool = False) -> tuple[str, ...]:
        """A string or a list of strings."""
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a string or a list of strings, not {_kind(value)}")
        return tuple(v.strip().lower() if lower else v.strip() for v in value if v.strip())

    def boolean(self, data: Mapping[str, Any], key: str, default: bool = False) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_kind(value)}")
        return value

    def integer(self, data: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, not {_kind(value)}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be between {lo} and {hi}, not {value}")
        return value

    def fraction(self, data: Mapping[str, Any], key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number between 0 and 1, not {_kind(value)}")
        if not 0 < value < 1:
            raise self.fail(key, f"must be between 0 and 1 (exclusive), e.g. 0.75, not {value}")
        return float(value)

    def duration(self, data: Mapping[str, Any], key: str, *, required: bool = True) -> dt.timedelta | None:
        if key not in data:
            if required:
                raise self.fail(key, 'is required (a duration such as "15m", "4h" or "1h30m")')
            return None
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(key, f'must be a duration string such as "4h", not {_kind(value)}')
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def choice(self, data: Mapping[str, Any], key: str, options: tuple[str, ...], default: str = "") -> str:
        value = self.string(data, key, default).lower()
        if value and value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def choices(self, data: Mapping[str, Any], key: str, options: tuple[str, ...]) -> tuple[str, ...]:
        values = self.strings(data, key, lower=True)
        for v in values:
            if v not in options:
                raise self.fail(key, f"{v!r} is not one of {', '.join(options)}")
        return values


TableContext = _Ctx  # for the sections parsed outside this module (ingest/channels/imap_accounts.py)


def parse_duration(text: str) -> dt.timedelta:
    """ "90s", "15m", "4h", "1h30m", "2d", "1w" -> timedelta (positive)."""
    s = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f'{text!r} is not a duration: use a number with a unit s, m, h, d or w, e.g. "15m" or "1h30m"')
    if total <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return dt.timedelta(seconds=total)


def format_duration(value: dt.timedelta) -> str:
    """The inverse of ``parse_duration`` for display ("1h30m")."""
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def _intervals(ctx: _Ctx, key: str, value: Any) -> tuple[tuple[int, int], ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(key, f'must be a list of "HH:MM-HH:MM" strings, not {_kind(value)}')
    out: list[tuple[int, int]] = []
    for item in value:
        m = _HOURS.match(item.strip())
        if not m:
            raise ctx.fail(key, f'{item!r} is not "HH:MM-HH:MM" (e.g. "09:00-17:30")')
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or h1 > 23 or end > 1440:
            raise ctx.fail(key, f"{item!r} is not a time range within one day (00:00 to 24:00)")
        if end <= start:
            raise ctx.fail(key, f"{item!r} ends before it starts; split a night shift into two days")
        out.append((start, end))
    out.sort()
    for (s1, e1), (s2, _) in zip(out, out[1:], strict=False):
        if s2 < e1:
            raise ctx.fail(
                key,
                f"time ranges overlap ({s1 // 60:02d}:{s1 % 60:02d}-{e1 // 60:02d}:{e1 % 60:02d} "
                f"and one starting {s2 // 60:02d}:{s2 % 60:02d})",
            )
    return tuple(out)


# ---- the sections ------------------------------------------------------------------------
def _calendar(source: str, name: str, data: Any) -> Calendar:
    ctx = _Ctx(source, f"business_hours.{name}")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {_kind(data)}")
    ctx.only(data, {"timezone", "holidays", "all_week", "weekdays", "weekend", *WEEKDAYS})
    tz = ctx.string(data, "timezone", required=True)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ctx.fail("timezone", f'{tz!r} is not a known time zone (use a name such as "Europe/Berlin")') from None
    week: list[tuple[tuple[int, int], ...]] = [()] * 7
    for key, days in (("all_week", range(7)), ("weekdays", range(5)), ("weekend", range(5, 7))):
        if key in data:
            for d in days:
                week[d] = _intervals(ctx, key, data[key])
    for d, key in enumerate(WEEKDAYS):
        if key in data:
            week[d] = _intervals(ctx, key, data[key])
    if not any(week):
        raise ctx.fail("", 'has no opening hours on any day (give e.g. monday = ["09:00-17:00"])')
    holidays: set[dt.date] = set()
    raw = data.get("holidays", [])
    if not isinstance(raw, list):
        raise ctx.fail("holidays", f'must be a list of dates ("2025-12-25" or 2025-12-25), not {_kind(raw)}')
    for item in raw:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            holidays.add(item)
            continue
        try:
            holidays.add(dt.date.fromisoformat(str(item)))
        except ValueError:
            raise ctx.fail("holidays", f"{item!r} is not a date (YYYY-MM-DD)") from None
    return Calendar(name, tz, tuple(week), frozenset(holidays))


def _team(source: str, index: int, data: Any) -> tuple[Team, tuple[str, ...]]:
    ctx = _Ctx(source, f"teams[{index}]")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {_kind(data)}")
    name = ctx.string(data, "name", required=True)
    ctx = _Ctx(source, f"teams[{index}] (name {name!r})")
    ctx.only(
        data,
        {
            "name",
            "address",
            "addresses",
            "slack_channel",
            "lead_email",
            "business_hours",
            "categories",
            "languages",
            "strategy",
            "default",
            "agents",
            "notify_outside_hours",
            "restrict_second_line",
        },
    )
    if not re.fullmatch(r"[\w.-]{1,64}", name):
        raise ctx.fail("name", f"{name!r}: use letters, digits, '.', '-' or '_' (at most 64)")
    addresses = ctx.strings(data, "address", lower=True) + ctx.strings(data, "addresses", lower=True)
    for a in addresses:
        if "@" not in a:
            raise ctx.fail("addresses", f"{a!r} is not an email address")
    team = Team(
        name=name,
        addresses=addresses,
        slack_channel=ctx.string(data, "slack_channel"),
        lead_email=ctx.string(data, "lead_email").lower(),
        business_hours=ctx.string(data, "business_hours"),
        categories=ctx.strings(data, "categories", lower=True),
        languages=ctx.strings(data, "languages", lower=True),
        strategy=ctx.choice(data, "strategy", STRATEGIES, "least_loaded"),
        default=ctx.boolean(data, "default"),
        notify_outside_hours=ctx.boolean(data, "notify_outside_hours"),
        restrict_second_line=ctx.boolean(data, "restrict_second_line"),
    )
    if team.lead_email and "@" not in team.lead_email:
        raise ctx.fail("lead_email", f"{team.lead_email!r} is not an email address")
    return team, ctx.strings(data, "agents", lower=True)


def _agent(source: str, index: int, data: Any) -> Agent:
    ctx = _Ctx(source, f"agents[{index}]")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {_kind(data)}")
    email = ctx.string(data, "email", required=True).lower()
    ctx = _Ctx(source, f"agents[{index}] (email {email!r})")
    ctx.only(data, {"email", "name", "slack_user", "teams", "skills", "tier", "capacity", "availability", "role"})
    if "@" not in email:
        raise ctx.fail("email", f"{email!r} is not an email address")
    skills_raw = ctx.table_of(data, "skills")
    skills: dict[str, int] = {}
    for skill, level in skills_raw.items():
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise ctx.fail(f"skills.{skill}", f"must be a level from 1 to 5, not {level!r}")
        skills[skill.strip().lower()] = level
    return Agent(
        email=email,
        name=ctx.string(data, "name") or email.partition("@")[0],
        slack_user=ctx.string(data, "slack_user"),
        teams=ctx.strings(data, "teams"),
        skills=skills,
        tier=ctx.integer(data, "tier", 1, 1, 3),
        capacity=ctx.integer(data, "capacity", 10, 0, 10000),
        availability=ctx.choice(data, "availability", AVAILABILITY, "available"),
        role=ctx.choice(data, "role", ROLES, ""),
    )


def _rule(source: str, index: int, data: Any) -> RoutingRule:
    ctx = _Ctx(source, f"routing.rules[{index}]")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {_kind(data)}")
    name = ctx.string(data, "name") or f"rule {index + 1}"
    ctx = _Ctx(source, f"routing.rules[{index}] (name {name!r})")
    ctx.only(data, {"name", "when", "set"})
    when, then = ctx.table_of(data, "when"), ctx.table_of(data, "set")
    wctx = _Ctx(source, f"routing.rules[{index}] (name {name!r}).when")
    wctx.only(
        when, {"category", "recipient", "language", "channel", "sender_domain", "customer_tier", "subject_matches"}
    )
    sctx = _Ctx(source, f"routing.rules[{index}] (name {name!r}).set")
    sctx.only(then, {"team", "priority", "sla"})
    pattern = wctx.string(when, "subject_matches")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise wctx.fail("subject_matches", f"is not a valid regular expression: {exc}") from None
    rule = RoutingRule(
        name=name,
        category=wctx.strings(when, "category", lower=True),
        recipient=wctx.strings(when, "recipient", lower=True),
        language=wctx.strings(when, "language", lower=True),
        channel=wctx.strings(when, "channel", lower=True),
        sender_domain=wctx.strings(when, "sender_domain", lower=True),
        customer_tier=wctx.strings(when, "customer_tier", lower=True),
        subject_matches=pattern,
        set_team=sctx.string(then, "team"),
        set_priority=sctx.choice(then, "priority", PRIORITIES),
        set_sla=sctx.string(then, "sla"),
    )
    if not (rule.set_team or rule.set_priority or rule.set_sla):
        raise sctx.fail("", "sets nothing: give team, priority or sla")
    return rule


def _policy(source: str, name: str, data: Any, default_warn: float) -> SlaPolicy:
    ctx = _Ctx(source, f"sla.policies.{name}")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {_kind(data)}")
    ctx.only(data, {"priority", "team", "customer_tier", "business_hours", "first_response", "resolution", "warn_at"})
    first, resolution = ctx.duration(data, "first_response"), ctx.duration(data, "resolution")
    assert first is not None and resolution is not None
    return SlaPolicy(
        name=name,
        first_response=first,
        resolution=resolution,
        priority=ctx.choices(data, "priority", PRIORITIES),
        team=ctx.strings(data, "team"),
        customer_tier=ctx.strings(data, "customer_tier", lower=True),
        business_hours=ctx.string(data, "business_hours"),
        warn_at=ctx.fraction(data, "warn_at", default_warn),
    )


def _escalation(source: str, index: int, data: Any) -> EscalationRule:
    ctx = _Ctx(source, f"escalation.rules[{index}]")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {_kind(data)}")
    name = ctx.string(data, "name") or f"escalation {index + 1}"
    base = f"escalation.rules[{index}] (name {name!r})"
    ctx = _Ctx(source, base)
    ctx.only(data, {"name", "when", "then"})
    when, then = ctx.table_of(data, "when"), ctx.table_of(data, "then")
    wctx, tctx = _Ctx(source, base + ".when"), _Ctx(source, base + ".then")
    wctx.only(when, {"event", "target", "priority", "customer_tier", "team"})
    tctx.only(then, {"priority", "raise_priority", "team", "tier", "notify"})
    event = wctx.choice(when, "event", ("warning", "breach", "manual"))
    if not event:
        raise wctx.fail("event", 'is required: "warning", "breach" or "manual" (an agent\'s Escalate button)')
    rule = EscalationRule(
        name=name,
        on=event,
        target=wctx.choices(when, "target", SLA_TARGETS),
        priority=wctx.choices(when, "priority", PRIORITIES),
        customer_tier=wctx.strings(when, "customer_tier", lower=True),
        team=wctx.strings(when, "team"),
        set_priority=tctx.choice(then, "priority", PRIORITIES),
        raise_priority=tctx.boolean(then, "raise_priority"),
        to_team=tctx.string(then, "team"),
        to_tier=tctx.integer(then, "tier", 0, 0, 3),
        notify=tctx.choices(then, "notify", NOTIFY),
    )
    if rule.set_priority and rule.raise_priority:
        raise tctx.fail("raise_priority", "give either priority or raise_priority, not both")
    if not (rule.set_priority or rule.raise_priority or rule.to_team or rule.to_tier or rule.notify):
        raise tctx.fail("", "does nothing: give priority, raise_priority, team, tier or notify")
    return rule


def _blocklist_entries(bctx: Any, block: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """[blocklist] by the same rules as ``helpline blocklist add`` (control characters, wildcards, public
    suffixes, IDN as punycode), so a file cannot hold what the command refuses."""
    out: dict[str, list[str]] = {"sender": [], "domain": []}
    for key, want in (("senders", "sender"), ("domains", "domain")):
        for value in bctx.strings(block, key, lower=True):
            try:
                kind, normal = blocklist_entry.kind_of(value)
            except ValueError as exc:
                raise bctx.fail(key, str(exc)) from None
            if kind != want:
                where = "`domains`" if kind == "domain" else "`senders`"
                raise bctx.fail(key, f"{value!r} is a {kind}: put it under {where}")
            out[kind].append(normal)
    return tuple(out["sender"]), tuple(out["domain"])


def parse(text: str, source: str = "helpline.toml") -> SiteConfig:
    """The configuration in ``text``; ``ConfigFileError`` names what is wrong and where."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(source, "", "", f"is not valid TOML: {exc}") from None
    top = _Ctx(source, "top level")
    top.only(
        data,
        {
            "templates_dir",
            "business_hours",
            "teams",
            "agents",
            "routing",
            "sla",
            "escalation",
            "priority",
            "imap",
            "webhooks",
            "retention",
            "blocklist",
        },
    )

    calendars = {name: _calendar(source, name, body) for name, body in top.table_of(data, "business_hours").items()}

    teams: list[Team] = []
    members: dict[str, list[str]] = {}
    for i, body in enumerate(top.tables(data, "teams")):
        team, listed = _team(source, i, body)
        if any(t.name == team.name for t in teams):
            raise ConfigFileError(source, f"teams[{i}]", "name", f"team {team.name!r} is defined twice")
        if team.business_hours and team.business_hours not in calendars:
            raise ConfigFileError(
                source,
                f"teams[{i}] (name {team.name!r})",
                "business_hours",
                f"no calendar {team.business_hours!r} under [business_hours] "
                f"(have: {', '.join(sorted(calendars)) or 'none'})",
            )
        for email in listed:
            members.setdefault(email, []).append(team.name)
        teams.append(team)
    defaults = [t.name for t in teams if t.default]
    if len(defaults) > 1:
        raise ConfigFileError(source, "teams", "default", f"only one team may be the default, not {defaults}")
    owners: dict[str, str] = {}
    for t in teams:
        for a in t.addresses:
            if a in owners:
                raise ConfigFileError(
                    source, f"teams (name {t.name!r})", "addresses", f"{a} is already the address of team {owners[a]!r}"
                )
            owners[a] = t.name
    names = {t.name for t in teams}

    agents: dict[str, Agent] = {}
    for i, body in enumerate(top.tables(data, "agents")):
        agent = _agent(source, i, body)
        if agent.email in agents:
            raise ConfigFileError(source, f"agents[{i}]", "email", f"agent {agent.email} is defined twice")
        for team_name in agent.teams:
            if team_name not in names:
                raise ConfigFileError(
                    source,
                    f"agents[{i}] (email {agent.email!r})",
                    "teams",
                    f"no team {team_name!r} (have: {', '.join(sorted(names)) or 'none'})",
                )
        agents[agent.email] = agent
    for email, team_names in members.items():  # a team's `agents = [...]` list adds memberships
        got = agents.get(email) or Agent(email=email, name=email.partition("@")[0])
        merged = tuple(dict.fromkeys(got.teams + tuple(team_names)))
        agents[email] = Agent(**{**got.__dict__, "teams": merged})

    routing = top.table_of(data, "routing")
    rctx = _Ctx(source, "routing")
    rctx.only(routing, {"rules"})
    rules = tuple(_rule(source, i, body) for i, body in enumerate(rctx.tables(routing, "rules")))

    sla = top.table_of(data, "sla")
    sctx = _Ctx(source, "sla")
    sctx.only(sla, {"warn_at", "policies"})
    warn_at = sctx.fraction(sla, "warn_at", DEFAULT_WARN_AT)
    policies = tuple(_policy(source, name, body, warn_at) for name, body in sctx.table_of(sla, "policies").items())
    for p in policies:
        if p.business_hours and p.business_hours not in calendars:
            raise ConfigFileError(
                source,
                f"sla.policies.{p.name}",
                "business_hours",
                f"no calendar {p.business_hours!r} under [business_hours]",
            )
        for team_name in p.team:
            if team_name not in names:
                raise ConfigFileError(source, f"sla.policies.{p.name}", "team", f"no team {team_name!r}")
    policy_names = {p.name for p in policies}
    for i, r in enumerate(rules):
        if r.set_team and r.set_team not in names:
            raise ConfigFileError(
                source,
                f"routing.rules[{i}] (name {r.name!r}).set",
                "team",
                f"no team {r.set_team!r} (have: {', '.join(sorted(names)) or 'none'})",
            )
        if r.set_sla and r.set_sla not in policy_names:
            raise ConfigFileError(
                source,
                f"routing.rules[{i}] (name {r.name!r}).set",
                "sla",
                f"no policy {r.set_sla!r} under [sla.policies] (have: {', '.join(sorted(policy_names)) or 'none'})",
            )

    esc = top.table_of(data, "escalation")
    ectx = _Ctx(source, "escalation")
    ectx.only(esc, {"rules"})
    escalations = tuple(_escalation(source, i, body) for i, body in enumerate(ectx.tables(esc, "rules")))
    for i, e in enumerate(escalations):
        if e.to_team and e.to_team not in names:
            raise ConfigFileError(
                source, f"escalation.rules[{i}] (name {e.name!r}).then", "team", f"no team {e.to_team!r}"
            )
        for team_name in e.team:
            if team_name not in names:
                raise ConfigFileError(
                    source, f"escalation.rules[{i}] (name {e.name!r}).when", "team", f"no team {team_name!r}"
                )

    templates_dir = top.string(data, "templates_dir")
    priority = parse_priority(source, top.table_of(data, "priority"), _Ctx)
    # [webhooks] is checked here too, so that `helpline teams sync --check` finds its mistakes; config.load()
    # reads it at start-up. [[imap.accounts]] is the ingest daemon's (ingest/channels/imap_accounts.py).
    webhook_sources(source, data, read_files=False)  # a worker may not see the ingest host's secret files
    top.table_of(data, "imap")
    parse_policies(source, data, names, _Ctx)  # [[retention.policies]], applied by the scheduler
    block = top.table_of(data, "blocklist")
    bctx = _Ctx(source, "blocklist")
    bctx.only(block, {"senders", "domains"})
    senders, domains = _blocklist_entries(bctx, block)
    return SiteConfig(
        source=source,
        calendars=calendars,
        teams=tuple(teams),
        agents=tuple(agents.values()),
        rules=rules,
        policies=policies,
        warn_at=warn_at,
        escalations=escalations,
        templates_dir=templates_dir,
        priority=priority,
        blocked_senders=senders,
        blocked_domains=domains,
    )


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise ConfigError(f"HELPLINE_CONFIG_FILE={path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigFileError(path, "", "", "is not UTF-8 text") from None


def load_path(path: str) -> SiteConfig:
    return parse(_read_text(path), path)


def read_toml(path: str) -> dict[str, Any]:
    """The file's tables, unchecked: for the sections other packages parse (``[[imap.accounts]]``)."""
    try:
        return tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(path, "", "", f"is not valid TOML: {exc}") from None


def webhook_sources(source: str, data: Mapping[str, Any], *, read_files: bool = True) -> list[WebhookSource]:
    """The ``[[webhooks.sources]]`` of a parsed file (its top level ``data``)."""
    return parse_webhook_sources(
        source, _Ctx(source, "top level").table_of(data, "webhooks"), _Ctx, read_files=read_files
    )


class _Cache(threading.local):
    key: tuple[str, int, int] | None = None
    value: SiteConfig = EMPTY


_cache = _Cache()


def site_config(settings: Settings) -> SiteConfig:
    """The configuration file of ``settings`` (EMPTY without one), read again only when it changed.

    A file that became invalid after start-up keeps the last good version in a
    running worker (routing must not stop because of a typo being edited) and
    the error reaches the operator through ``helpline teams sync`` or a restart.
    """
    path = settings.config_file
    if not path:
        return EMPTY
    try:
        st = os.stat(path)
    except OSError as exc:
        if _cache.key and _cache.key[0] == path:
            return _cache.value
        raise ConfigError(f"HELPLINE_CONFIG_FILE={path} cannot be read: {exc.strerror}") from None
    key = (path, st.st_mtime_ns, st.st_size)
    if _cache.key == key:
        return _cache.value
    try:
        value = load_path(path)
    except ConfigError as exc:
        if _cache.key and _cache.key[0] == path:
            if _cache.key != (path, -1, -1):
                log.warning("event=config_file_invalid path=%s keeping=last_good error=%r", path, str(exc)[:300])
            _cache.key = (path, -1, -1)
            return _cache.value
        raise
    _cache.key, _cache.value = key, value
    return value
