"""The permission table (router/permissions.py): every role against every action, the lead of a team, the
second-line restriction, and the README's copy of the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpline.router import permissions as p
from helpline.store.access.agent_roles import OPERATOR, ActorInfo, TicketFacts
from helpline.store.siteconfig.config_file import ROLES

EXPECTED = {  # action: roles allowed, written out by hand so that a change of the table is a change here too
    "reply": ROLES,
    "note": ROLES,
    "status": ROLES,
    "assign_self": ROLES,
    "triage": ROLES,
    "escalate": ROLES,
    "macros": ROLES,
    "assign_others": ("senior", "lead", "admin"),
    "transfer": ("senior", "lead", "admin"),
    "merge": ("senior", "lead", "admin"),
    "see_pii": ("senior", "lead", "admin"),
    "export_erase": ("admin",),
    "api_keys": ("admin",),
}


def ticket(team: str = "support", second_line: bool = False, restricted: bool = False) -> TicketFacts:
    return TicketFacts(1, "HL-2026-000001", team, None, second_line, restricted)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_every_role_and_action(role, action):
    d = p.decide(ActorInfo("a@example.com", "A", role=role), action, ticket())
    assert d.allowed is (role in EXPECTED[action])
    if not d.allowed:
        assert f"You need the {p.TABLE[action][0]} role" in d.message and f"you are {role}" in d.message


def test_the_table_has_every_action_of_the_issue():
    assert set(p.ACTIONS) == set(EXPECTED)


def test_no_role_is_agent_and_a_teams_lead_is_lead_there_only():
    plain = ActorInfo("a@example.com", "A")
    assert p.role_on(plain, "support") == "agent"
    lead = ActorInfo("l@example.com", "L", lead_of=frozenset({"support"}))
    assert p.decide(lead, "merge", ticket("support")).allowed
    assert not p.decide(lead, "merge", ticket("billing")).allowed
    assert not p.decide(lead, "merge").allowed  # not about a team's ticket: their own role
    admin_lead = ActorInfo("x@example.com", "X", role="admin", lead_of=frozenset({"support"}))
    assert p.role_on(admin_lead, "support") == "admin"  # leading a team never lowers a role


def test_second_line_tickets_of_a_restricted_team():
    first_line = ActorInfo("a@example.com", "A", role="agent")
    senior = ActorInfo("s@example.com", "S", role="senior")
    restricted = ticket(second_line=True, restricted=True)
    d = p.decide(first_line, "reply", restricted)
    assert not d.allowed and d.needed == "senior" and "second-line" in d.message
    assert p.decide(senior, "reply", restricted).allowed
    assert p.decide(first_line, "reply", ticket(second_line=True, restricted=False)).allowed
    assert p.decide(first_line, "reply", ticket(second_line=False, restricted=True)).allowed
    assert not p.decide(senior, "export_erase", restricted).allowed  # the restriction never lowers a need


def test_someone_who_is_not_an_agent_may_do_nothing_and_the_operator_everything():
    for action in p.ACTIONS:
        assert not p.decide(None, action, ticket()).allowed
        assert p.decide(OPERATOR, action, ticket(second_line=True, restricted=True)).allowed


def test_assign_action():
    me = ActorInfo("a@example.com", "A", slack_user="U1")
    assert p.assign_action(me, "A@example.com") == "assign_self"
    assert p.assign_action(me, "slack:U1") == "assign_self"
    assert p.assign_action(me, "b@example.com") == "assign_others"
    assert p.assign_action(me, None, current="a@example.com") == "assign_self"
    assert p.assign_action(me, None, current="b@example.com") == "assign_others"


def test_the_readme_shows_the_table_as_enforced():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert p.markdown_table() in readme
