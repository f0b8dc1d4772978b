"""Escalation: which configured rules an SLA warning or breach (or an agent's Escalate) sets off, and what they change.

Plain functions; ``workers.sla_clock`` carries the steps out (each one audited).
Every matching rule runs, in file order, so a site can notify on every
breach and additionally move urgent ones to a higher tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from helpline.store.siteconfig.config_file import PRIORITIES, EscalationRule


def matching(
    rules: Sequence[EscalationRule], *, event: str, target: str, priority: str, customer_tier: str, team: str | None
) -> list[EscalationRule]:
    out = []
    for r in rules:
        if r.on != event:
            continue
        if r.target and target not in r.target:
            continue
        if r.priority and priority not in r.priority:
            continue
        if r.customer_tier and customer_tier.lower() not in r.customer_tier:
            continue
        if r.team and (team or "") not in r.team:
            continue
        out.append(r)
    return out


def _level(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else 1  # unknown counts as medium


def raised(priority: str) -> str:
    """One level up (urgent stays urgent)."""
    return PRIORITIES[min(_level(priority) + 1, len(PRIORITIES) - 1)]


@dataclass(frozen=True)
class Steps:
    priority: str  # "" = unchanged
    team: str  # "" = unchanged
    tier: int  # 0 = unchanged
    notify: tuple[str, ...]
    rules: tuple[str, ...]


def steps(rules: Sequence[EscalationRule], priority: str) -> Steps:
    """What the matching rules amount to, applied in order (later rules see earlier changes)."""
    new_priority, team, tier = priority, "", 0
    notify: list[str] = []
    for r in rules:
        if r.set_priority and _level(r.set_priority) > _level(new_priority):
            new_priority = r.set_priority  # escalation never lowers a priority
        elif r.raise_priority:
            new_priority = raised(new_priority)
        if r.to_team:
            team = r.to_team
        if r.to_tier:
            tier = max(tier, r.to_tier)
        notify += [n for n in r.notify if n not in notify]
    return Steps(
        new_priority if new_priority != priority else "", team, tier, tuple(notify), tuple(r.name for r in rules)
    )


MANUAL = "manual"
DEFAULT_MANUAL = EscalationRule(name="manual (default)", on=MANUAL, raise_priority=True)


def manual(rules: Sequence[EscalationRule], *, priority: str, customer_tier: str, team: str | None) -> Steps:
    """What an agent's Escalate does: the rules whose ``when.event`` is ``manual``; without any that
    match, one priority level up (so the button is never a no-op on a site without rules)."""
    chosen = matching(rules, event=MANUAL, target="", priority=priority, customer_tier=customer_tier, team=team)
    return steps(chosen or [DEFAULT_MANUAL], priority)
