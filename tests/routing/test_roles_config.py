"""``role`` of ``[[agents]]`` and ``restrict_second_line`` of ``[[teams]]``: parsed, checked, synced."""

from __future__ import annotations

import pytest

from helpline.store.siteconfig import config_file
from helpline.store.tickets import routing_state as rs
from helpline.store.access.agent_roles import by_email, by_slack_user
from helpline.store.db import run_tx

TOML = """
[[teams]]
name = "support"
lead_email = "lea@example.com"
restrict_second_line = true

[[agents]]
email = "Ann@Example.com"
teams = ["support"]
slack_user = "U1"
role = "Senior"

[[agents]]
email = "lea@example.com"
teams = ["support"]
"""


def test_parsed_and_synced(backend):
    cfg = config_file.parse(TOML, "helpline.toml")
    assert cfg.agents[0].role == "senior" and cfg.agents[1].role == ""
    assert cfg.teams[0].restrict_second_line is True
    run_tx(lambda: rs.sync(cfg))
    assert rs.Team.get(rs.Team.name == "support").restrict_second_line is True
    ann, lea = run_tx(lambda: (by_slack_user("U1"), by_email("LEA@example.com")), durable=False)
    assert (ann.email, ann.role, ann.lead_of) == ("ann@example.com", "senior", frozenset())
    assert (lea.role, lea.lead_of) == ("", frozenset({"support"}))
    run_tx(lambda: rs.sync(config_file.parse(TOML.replace('role = "Senior"', 'role = "admin"'), "helpline.toml")))
    assert run_tx(lambda: by_email("ann@example.com"), durable=False).role == "admin"


def test_an_unknown_role_is_refused_with_the_choices():
    with pytest.raises(config_file.ConfigFileError, match="must be one of agent, senior, lead, admin, not 'boss'"):
        config_file.parse(TOML.replace('role = "Senior"', 'role = "boss"'), "helpline.toml")
