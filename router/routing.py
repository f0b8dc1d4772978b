"""Which team a new ticket goes to, and what the routing rules change: a plain function.

Order, first match wins (deploy/helpline.toml.example says the same):

1. a routing rule's ``set.team`` (rules are tried in order; each of team,
   priority and SLA policy is taken from the first rule that sets it);
2. the team that owns the support address the customer wrote to;
3. a team taking the ticket's category, preferring one that also takes its
   language;
4. a team taking its language;
5. the default team;
6. the category stage's own choice (the triage team for unclassified tickets).

Every decision carries its reason, which becomes the ``routed`` event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

from helpline.store.siteconfig.config_file import RoutingRule

from helpline.router.categories.default_labels import canonical
from helpline.store.tickets.routing_state import TeamInfo


@dataclass(frozen=True)
class TicketFacts:
    """What routing may look at."""

    category: str = ""
    recipient: str = ""  # the support address written to, lower case
    language: str = ""
    channel: str = ""
    sender: str = ""  # the sender's address (email, phone, ...)
    customer_tier: str = ""
    subject: str = ""
    stage_team: str = ""  # the category stage's team (triage for unclassified)


@dataclass(frozen=True)
class RouteDecision:
    team: str | None
    reason: str
    priority: str = ""  # set by a rule, "" = keep
    priority_reason: str = ""
    sla_policy: str = ""  # pinned by a rule, "" = by priority
    rules: tuple[str, ...] = field(default_factory=tuple)  # names of the rules that matched

    def as_event(self) -> dict:
        out: dict = {"team": self.team, "reason": self.reason}
        if self.priority:
            out["priority"] = self.priority
        if self.sla_policy:
            out["sla_policy"] = self.sla_policy
        if self.rules:
            out["rules"] = list(self.rules)
        return out


def _category_in(category: str, configured: Sequence[str]) -> bool:
    """A configured category names this one through the old default labels (``refund`` still
    takes ``cancellation_refund`` tickets; see ``default_labels.LEGACY_LABELS``)."""
    wanted = canonical(category)
    return any(canonical(c) == wanted for c in configured)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def rule_matches(rule: RoutingRule, facts: TicketFacts) -> bool:
    """All conditions of the rule hold (a rule without conditions matches everything)."""
    domain = facts.sender.rpartition("@")[2].lower() if "@" in facts.sender else ""
    checks = (
        (rule.category, facts.category.lower()),
        (rule.recipient, facts.recipient.lower()),
        (rule.language, facts.language.lower()),
        (rule.channel, facts.channel.lower()),
        (rule.sender_domain, domain),
        (rule.customer_tier, facts.customer_tier.lower()),
    )
    for wanted, value in checks:
        if wanted and value not in wanted:
            if wanted is rule.category and _category_in(value, wanted):
                continue
            return False
    if rule.subject_matches and not _regex(rule.subject_matches).search(facts.subject or ""):
        return False
    return True


def route(facts: TicketFacts, teams: Sequence[TeamInfo], rules: Sequence[RoutingRule]) -> RouteDecision:
    """The team (and any rule-set priority or SLA policy) for a new ticket, with the reason."""
    team = priority = policy = ""
    team_reason = priority_reason = ""
    matched: list[str] = []
    for rule in rules:
        if not rule_matches(rule, facts):
            continue
        matched.append(rule.name)
        if rule.set_team and not team:
            team, team_reason = rule.set_team, f"routing rule {rule.name!r}"
        if rule.set_priority and not priority:
            priority, priority_reason = rule.set_priority, f"routing rule {rule.name!r}"
        if rule.set_sla and not policy:
            policy = rule.set_sla
    known = {t.name for t in teams}
    if team and team not in known:
        team_reason += f" (team {team!r} is not in the database yet: run `helpline teams sync`)"
    if not team:
        team, team_reason = _team_by_facts(facts, teams)
    return RouteDecision(team or None, team_reason, priority, priority_reason, policy, tuple(matched))


def _team_by_facts(facts: TicketFacts, teams: Sequence[TeamInfo]) -> tuple[str, str]:
    recipient = facts.recipient.lower()
    if recipient:
        for t in teams:
            if recipient in t.addresses:
                return t.name, f"team {t.name!r} owns the address {recipient}"
    category = facts.category.lower()
    language = facts.language.lower()
    if category and category != "unclassified":
        by_category = [t for t in teams if category in t.categories or _category_in(category, t.categories)]
        if by_category:
            both = [t for t in by_category if language and language in t.languages]
            chosen = (both or by_category)[0]
            why = f"team {chosen.name!r} takes category {category!r}"
            return chosen.name, why + (f" and language {language!r}" if both else "")
    if language:
        for t in teams:
            if language in t.languages:
                return t.name, f"team {t.name!r} takes language {language!r}"
    for t in teams:
        if t.default:
            what = f"category {category!r}" if category else "the ticket"
            return t.name, f"default team {t.name!r}: no team takes {what}"
    if facts.stage_team:
        return facts.stage_team, f"the category stage's team {facts.stage_team!r} (no configured team matched)"
    return "", "no team matched and none is the default"
