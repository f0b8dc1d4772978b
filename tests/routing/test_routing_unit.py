"""The routing decisions as plain functions: team choice, agent order, SLA policy, escalation steps."""

from __future__ import annotations

import datetime as dt

from helpline.router import assign, escalation, sla
from helpline.router.routing import TicketFacts, route
from helpline.store.siteconfig.config_file import parse
from helpline.store.tickets.routing_state import AgentRow, TeamInfo


def team(name: str, *, addresses=(), categories=(), languages=(), default=False, strategy="least_loaded"):  # noqa: ANN001, ANN201
    return TeamInfo(name, tuple(addresses), tuple(categories), tuple(languages), strategy, default, "", "", "", False)


TEAMS = [
    team("billing", addresses=["billing@example.com"], categories=["invoice", "refund"], languages=["en"]),
    team("billing_de", categories=["invoice"], languages=["de"]),
    team("french", languages=["fr"]),
    team("general", default=True),
]
RULES = parse("""
[[teams]]
name = "legal"
[[teams]]
name = "general"
[[routing.rules]]
name = "lawyers"
when.subject_matches = "(?i)lawyer"
when.channel = ["email"]
set.team = "legal"
[[routing.rules]]
name = "key accounts"
when.sender_domain = ["bigcorp.example"]
set.priority = "high"
set.sla = "premium"
[[routing.rules]]
name = "everyone from bigcorp to general"
when.sender_domain = ["bigcorp.example"]
set.team = "general"
set.priority = "low"
[sla.policies.premium]
first_response = "10m"
resolution = "1h"
""").rules


def test_team_choice_in_its_order():
    legal = [*TEAMS, team("legal")]
    assert (
        route(
            TicketFacts(subject="My lawyer says", channel="email", recipient="billing@example.com"), legal, RULES
        ).reason
        == "routing rule 'lawyers'"
    )
    d = route(TicketFacts(recipient="billing@example.com", category="invoice", language="de"), TEAMS, RULES)
    assert (d.team, d.reason) == ("billing", "team 'billing' owns the address billing@example.com")
    d = route(TicketFacts(category="invoice", language="de"), TEAMS, RULES)
    assert (d.team, d.reason) == ("billing_de", "team 'billing_de' takes category 'invoice' and language 'de'")
    d = route(TicketFacts(category="invoice", language="it"), TEAMS, RULES)
    assert (d.team, d.reason) == ("billing", "team 'billing' takes category 'invoice'")
    d = route(TicketFacts(category="delivery", language="fr"), TEAMS, RULES)
    assert (d.team, d.reason) == ("french", "team 'french' takes language 'fr'")
    d = route(TicketFacts(category="unclassified", stage_team="triage"), TEAMS, RULES)
    assert (d.team, d.reason) == ("general", "default team 'general': no team takes category 'unclassified'")
    d = route(TicketFacts(category="unclassified", stage_team="triage"), TEAMS[:3], RULES)
    assert d.team == "triage" and "category stage" in d.reason
    assert route(TicketFacts(), [], []).team is None


def test_rules_set_each_thing_from_the_first_rule_that_sets_it():
    d = route(TicketFacts(sender="ceo@bigcorp.example", category="refund"), TEAMS, RULES)
    assert (d.team, d.priority, d.sla_policy) == ("general", "high", "premium")
    assert d.rules == ("key accounts", "everyone from bigcorp to general")
    assert d.as_event()["rules"] == ["key accounts", "everyone from bigcorp to general"]
    # A team a rule names that the database does not know yet is still chosen, with a hint.
    d = route(TicketFacts(subject="lawyer", channel="email"), TEAMS, RULES)
    assert d.team == "legal" and "helpline teams sync" in d.reason


def agent(
    i: int,
    email: str,
    *,
    open_count=0,
    capacity=5,
    availability="available",
    tier=1,
    skills=None,  # noqa: ANN001
    last=None,
) -> AgentRow:  # noqa: ANN001
    return AgentRow(i, email, email, tier, capacity, open_count, availability, dict(skills or {}), last)


T0 = dt.datetime(2026, 3, 2, 9, 0)
AGENTS = [
    agent(1, "a", open_count=2, capacity=4, last=T0 + dt.timedelta(minutes=5), skills={"refund": 2}),
    agent(2, "b", open_count=1, capacity=4, last=T0 + dt.timedelta(minutes=1), skills={"refund": 4, "de": 1}),
    agent(3, "c", open_count=3, capacity=10, last=None, tier=3, skills={"de": 5}),
    agent(4, "d", availability="away", skills={"refund": 5}),
    agent(5, "e", open_count=5, capacity=5),
]


def emails(ranking: assign.Ranking) -> list[str]:
    return [r.agent.email for r in ranking.ranked]


def test_strategies_order_the_available_agents_under_capacity():
    assert emails(assign.rank(AGENTS, "round_robin")) == ["c", "b", "a"]  # never assigned first
    assert emails(assign.rank(AGENTS, "least_loaded")) == ["b", "c", "a"]  # 1/4 = 0.25, 3/10 = 0.3, 2/4 = 0.5
    ranking = assign.rank(AGENTS, "skills", category="refund", language="de")
    assert emails(ranking) == ["b", "c", "a"]  # b: refund 4 + de 1 = 5 ties c: de 5, b is less loaded; a: 2
    assert ranking.ranked[0].reason == "skills: refund 4, de 1; 1/4 open"
    assert emails(assign.rank(AGENTS, "skills", category="refund")) == ["b", "a", "c"]
    # the new default's label finds the skill named by the old one (default_labels.LEGACY_LABELS)
    renamed = assign.rank(AGENTS, "skills", category="cancellation_refund", language="de")
    assert emails(renamed) == ["b", "c", "a"] and renamed.ranked[0].reason == "skills: refund 4, de 1; 1/4 open"
    assert emails(assign.rank(AGENTS, "least_loaded", min_tier=2)) == ["c"]
    assert emails(assign.rank(AGENTS, "least_loaded", exclude=["b"])) == ["c", "a"]
    none = assign.rank(AGENTS[3:], "least_loaded")
    assert none.ranked == () and none.why_none() == "no agent available under capacity (1 at capacity, 1 away)"
    assert assign.rank([], "skills").why_none() == "the team has no agents"


def test_sla_policy_choice():
    cfg = parse("""
[business_hours.office]
timezone = "UTC"
weekdays = ["09:00-17:00"]
[[teams]]
name = "vip"
business_hours = "office"
[sla]
warn_at = 0.8
[sla.policies.urgent_fast]
priority = ["urgent"]
first_response = "5m"
resolution = "1h"
[sla.policies.vip_team]
team = ["vip"]
first_response = "30m"
resolution = "4h"
[sla.policies.gold]
customer_tier = ["gold"]
priority = ["urgent", "high"]
business_hours = "office"
first_response = "1m"
resolution = "30m"
""")
    t = sla.choose(cfg, priority="low", team="support", customer_tier="standard")
    assert (t.policy, t.first_response, t.resolution, t.warn_at, t.calendar.name) == (
        "default:low",
        dt.timedelta(hours=8),
        dt.timedelta(hours=48),
        0.8,
        "always",
    )
    assert sla.choose(cfg, priority="urgent", team="support").policy == "urgent_fast"
    t = sla.choose(cfg, priority="urgent", team="vip", team_calendar="office")
    assert (t.policy, t.calendar.name) == ("vip_team", "office")  # team beats priority
    assert sla.choose(cfg, priority="high", team="vip", customer_tier="Gold").policy == "gold"  # tier beats team
    assert sla.choose(cfg, priority="low", team="vip", customer_tier="gold").policy == "vip_team"
    assert sla.choose(cfg, priority="low", team="x", pinned="gold").policy == "gold"
    assert sla.choose(cfg, priority="low", team="x", pinned="gone").policy == "default:low"


def test_plan_and_consumption():
    from helpline.store.siteconfig.config_file import ALWAYS

    p = sla.plan(T0, 3600, 600, 0.75, ALWAYS)
    assert p.warn_at == T0 + dt.timedelta(minutes=35) and p.due_at == T0 + dt.timedelta(minutes=50)
    p = sla.plan(T0, 3600, 3000, 0.75, ALWAYS)  # past the warning point already
    assert p.warn_at == T0
    assert sla.consumed(T0, T0 + dt.timedelta(minutes=5), 60, ALWAYS) == 360
    assert sla.still_fired(T0, T0, T0 + dt.timedelta(1)) == T0
    assert sla.still_fired(T0, T0 + dt.timedelta(2), T0 + dt.timedelta(1)) is None
    assert sla.outcome(3600, 3600, False) == "met" and sla.outcome(3700, 3600, False) == "missed"


def test_escalation_steps():
    rules = parse("""
[[escalation.rules]]
name = "breach raises"
when.event = "breach"
then.raise_priority = true
then.notify = ["team"]
[[escalation.rules]]
name = "gold to tier 3"
when.event = "breach"
when.customer_tier = ["gold"]
when.target = ["resolution"]
then.tier = 3
then.notify = ["lead", "team"]
[[escalation.rules]]
name = "warnings"
when.event = "warning"
then.priority = "high"
""").escalations
    hit = escalation.matching(
        rules, event="breach", target="resolution", priority="medium", customer_tier="gold", team="x"
    )
    assert [r.name for r in hit] == ["breach raises", "gold to tier 3"]
    s = escalation.steps(hit, "medium")
    assert (s.priority, s.tier, s.notify, s.team) == ("high", 3, ("team", "lead"), "")
    assert [
        r.name
        for r in escalation.matching(
            rules, event="breach", target="first_response", priority="low", customer_tier="gold", team=None
        )
    ] == ["breach raises"]
    assert (
        escalation.steps(
            escalation.matching(
                rules, event="warning", target="resolution", priority="urgent", customer_tier="", team=None
            ),
            "urgent",
        ).priority
        == ""
    )  # never lowers
    assert escalation.raised("urgent") == "urgent" and escalation.raised("low") == "medium"
