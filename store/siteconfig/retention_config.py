"""The ``[[retention.policies]]`` of the TOML configuration file: how long each team keeps what.

Parsed with the configuration file's own checker, which ``config_file`` passes in
(``ctx_type``, as for ``[priority]`` and ``[[webhooks.sources]]``), so this module
does not import ``config_file`` and the two stay free of a cycle. The scheduler's
retention job (``store/lifecycle/retention.py``) applies the policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

ACTIONS = ("anonymise", "erase")
# About a hundred years: a policy's number of days must be below it.
MAX_DAYS = 36500


@dataclass(frozen=True)
class Policy:
    team: str  # "" = the default policy
    raw_mime_days: int | None = None
    attachment_days: int | None = None
    closed_ticket_days: int | None = None
    closed_ticket_action: str = "anonymise"


def parse_policies(
    source: str, data: Mapping[str, Any], teams: set[str] | None, ctx_type: type[Any]
) -> tuple[Policy, ...]:
    """``[[retention.policies]]`` of a configuration file, checked (``teams``: the known team names)."""
    top = ctx_type(source, "retention")
    section = top.table_of(data, "retention")
    top.only(section, {"policies"})
    out: list[Policy] = []
    seen: set[str] = set()
    for i, body in enumerate(top.tables(section, "policies")):
        ctx = ctx_type(source, f"retention.policies[{i}]")
        if not isinstance(body, dict):
            raise ctx.fail("", "must be a table")
        ctx.only(body, {"team", "raw_mime_days", "attachment_days", "closed_ticket_days", "closed_ticket_action"})
        team = ctx.string(body, "team")
        team = "" if team == "*" else team
        if teams is not None and team and team not in teams:
            raise ctx.fail("team", f"no team {team!r} (have: {', '.join(sorted(teams)) or 'none'})")
        if team in seen:
            raise ctx.fail("team", f"a second policy for {team or 'the default'}; one per team")
        seen.add(team)
        days = {
            k: (ctx.integer(body, k, 0, 1, MAX_DAYS) if k in body else None)
            for k in ("raw_mime_days", "attachment_days", "closed_ticket_days")
        }
        out.append(
            Policy(
                team=team, closed_ticket_action=ctx.choice(body, "closed_ticket_action", ACTIONS, "anonymise"), **days
            )
        )
    return tuple(out)
