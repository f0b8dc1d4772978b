"""Which agent of a team gets a ticket: a plain function from candidates to a preference order.

The strategies (per team, in the TOML file):

- ``round_robin``: the agent assigned least recently goes first. Kept as
  "least recently assigned" in the database rather than a pointer in memory,
  so it survives restarts and is shared by every worker.
- ``least_loaded``: the lowest open tickets relative to capacity; ties go to
  the fewest open tickets, then the least recently assigned.
- ``skills``: the highest skill level for the ticket's category plus that for
  its language, then as ``least_loaded``.

Only available agents under capacity (and of at least ``min_tier``) are
candidates. The order is a preference, not a promise: the caller claims the
first agent whose load the database lets it raise (store.routing_state.claim),
and moves on to the next if another worker took the last slot first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Sequence

from helpline.store.tickets.routing_state import AgentRow

_NEVER = dt.datetime.min


@dataclass(frozen=True)
class Ranked:
    agent: AgentRow
    reason: str


@dataclass(frozen=True)
class Ranking:
    ranked: tuple[Ranked, ...]
    skipped: dict[str, int]  # why the others are out: {"busy": 2, "at capacity": 1, ...}

    def why_none(self) -> str:
        if not self.skipped:
            return "the team has no agents"
        return (
            "no agent available under capacity ("
            + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            + ")"
        )


def eligible(
    agents: Sequence[AgentRow], min_tier: int = 0, exclude: Sequence[str] = ()
) -> tuple[list[AgentRow], dict[str, int]]:
    ok: list[AgentRow] = []
    skipped: dict[str, int] = {}
    for a in agents:
        why = ""
        if a.email in exclude:
            why = "excluded"
        elif a.availability != "available":
            why = a.availability
        elif a.open_count >= a.capacity:
            why = "at capacity"
        elif a.tier < min_tier:
            why = f"below tier {min_tier}"
        if why:
            skipped[why] = skipped.get(why, 0) + 1
        else:
            ok.append(a)
    return ok, skipped


def _load(a: AgentRow) -> float:
    return a.open_count / a.capacity if a.capacity else 1.0


def _skill_key(skills: Mapping[str, int], category: str) -> str:
    """The skill that names ``category``: itself, or an old default label it replaced (``refund`` for
    ``cancellation_refund``, see ``default_labels.LEGACY_LABELS``)."""
    if not category or category in skills:
        return category
    from helpline.router.categories.default_labels import canonical

    wanted = canonical(category)
    return next((k for k in skills if canonical(k) == wanted), "")


def rank(
    agents: Sequence[AgentRow],
    strategy: str,
    *,
    category: str = "",
    language: str = "",
    min_tier: int = 0,
    exclude: Sequence[str] = (),
) -> Ranking:
    """Candidates in the order the team's strategy prefers them, each with its reason."""
    ok, skipped = eligible(agents, min_tier, exclude)
    category, language = category.lower(), language.lower()

    def load_reason(a: AgentRow) -> str:
        return f"{a.open_count}/{a.capacity} open"

    if strategy == "round_robin":
        ordered = sorted(ok, key=lambda a: (a.last_assigned_at or _NEVER, a.id))
        out = [
            Ranked(
                a,
                "round robin: "
                + (
                    f"last assigned {a.last_assigned_at:%Y-%m-%d %H:%M:%S}"
                    if a.last_assigned_at
                    else "not assigned yet"
                ),
            )
            for a in ordered
        ]
    elif strategy == "skills":

        def score(a: AgentRow) -> int:
            key = _skill_key(a.skills, category)
            return int(a.skills.get(key, 0) if key else 0) + int(a.skills.get(language, 0) if language else 0)

        ordered = sorted(ok, key=lambda a: (-score(a), _load(a), a.open_count, a.last_assigned_at or _NEVER, a.id))
        out = []
        for a in ordered:
            parts = [f"{k} {a.skills[k]}" for k in (_skill_key(a.skills, category), language) if k and k in a.skills]
            out.append(Ranked(a, f"skills: {', '.join(parts) if parts else 'no matching skill'}; {load_reason(a)}"))
    else:  # least_loaded
        ordered = sorted(ok, key=lambda a: (_load(a), a.open_count, a.last_assigned_at or _NEVER, a.id))
        out = [Ranked(a, f"least loaded: {load_reason(a)}") for a in ordered]
    return Ranking(tuple(out), skipped)
