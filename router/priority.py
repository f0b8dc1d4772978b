"""Initial priority from explainable keyword rules.

Each rule that fires adds its reason, so an agent can see why a ticket is
urgent ("high: keyword 'outage' in subject"). The triage issue extends this
with tiers, categories and sentiment; the shape (a level plus reasons) stays.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = ("low", "medium", "high", "urgent")

DEFAULT_RULES: tuple[tuple[str, str], ...] = (
    ("urgent", r"\b(emergency|outage|data loss|security breach|hacked)\b"),
    ("high", r"\b(urgent|critical|down|broken|not working|cannot log ?in|can't log ?in|security|refund|legal)\b"),
)


@dataclass(frozen=True)
class PriorityDecision:
    level: str
    reasons: tuple[str, ...]


def initial_priority(subject: str, text: str, rules: tuple[tuple[str, str], ...] = DEFAULT_RULES) -> PriorityDecision:
    best = "medium"
    reasons: list[str] = []
    for level, pattern in rules:
        for where, value in (("subject", subject), ("text", text[:4000])):
            m = re.search(pattern, value or "", re.IGNORECASE)
            if m:
                reasons.append(f"{level}: keyword {m.group(0).lower()!r} in {where}")
                if LEVELS.index(level) > LEVELS.index(best):
                    best = level
                break
    return PriorityDecision(best, tuple(reasons) or ("medium: default",))
