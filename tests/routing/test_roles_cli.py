"""Roles on the command line: ``--actor EMAIL`` acts as that agent within their role; without it the
operator acts as admin and the audit event says so; ``agents list`` shows every agent's role. A subprocess
against the real configuration file and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from helpline.store import models as m

from ..workers.builders import Desk, reload
from .conftest import DESK_TOML, write_config
from .test_routing_cli import helpline

ROLES_TOML = (
    DESK_TOML.replace('email = "ben@example.com"\n', 'email = "ben@example.com"\nrole = "senior"\n')
    + """
[[agents]]
email = "billing-lead@example.com"
teams = ["billing"]

[[agents]]
email = "root@example.com"
role = "admin"
"""
)


def actors(ticket: m.Ticket, kind: str) -> list[str]:
    return [
        e.actor
        for e in m.Event.select().where((m.Event.ticket == ticket) & (m.Event.kind == kind)).order_by(m.Event.id)
    ]


def test_agents_list_shows_roles_and_actor_is_bounded_by_role(backend, tmp_path):
    s = backend.replace(
        config_file=write_config(tmp_path, ROLES_TOML), support_addresses=("support@example.com", "billing@example.com")
    )
    assert helpline(s, "teams", "sync").returncode == 0
    listed = {a["email"]: a for a in json.loads(helpline(s, "agents", "list", "--json").stdout)}
    assert listed["ann@example.com"]["role"] == "agent" and not listed["ann@example.com"]["role_configured"]
    assert listed["ben@example.com"]["role"] == "senior" and listed["root@example.com"]["role"] == "admin"
    assert listed["billing-lead@example.com"]["lead_of"] == ["billing"]
    text = helpline(s, "agents", "list").stdout
    assert "role=agent (default)" in text and "role=senior" in text and "lead of billing" in text

    desk = Desk(s)
    first, second = (desk.new_ticket(to="billing@example.com")[0] for _ in range(2))
    out = helpline(s, "tickets", "merge", first.number, "--into", second.number, "--actor", "ann@example.com")
    assert out.returncode == 1 and "You need the senior role to merge and split tickets; you are agent" in out.stderr
    assert reload(first).status != "merged"
    out = helpline(s, "tickets", "transfer", first.number, "--team", "tech", "--actor", "ann@example.com")
    assert out.returncode == 1 and "senior role" in out.stderr and reload(first).team == "billing"
    out = helpline(s, "tickets", "priority", first.number, "--to", "high", "--actor", "ann@example.com")
    assert out.returncode == 0, out.stderr
    assert actors(first, "priority_changed")[-1] == "ann@example.com"
    # The team's lead_email, without a role, is lead on billing's tickets: may merge them.
    out = helpline(s, "tickets", "merge", first.number, "--into", second.number, "--actor", "billing-lead@example.com")
    assert out.returncode == 0, out.stderr
    out = helpline(s, "tickets", "split", first.number, "--actor", "ann@example.com")
    assert out.returncode == 1 and "senior role" in out.stderr
    out = helpline(s, "tickets", "split", first.number)  # the operator, as admin
    assert out.returncode == 0, out.stderr
    assert actors(first, "split_from")[-1].endswith("(operator, as admin)")
    out = helpline(s, "tickets", "status", second.number, "--to", "resolved")
    assert out.returncode == 0, out.stderr
    assert actors(second, "status_changed")[-1].endswith("(operator, as admin)")
    out = helpline(s, "tickets", "status", second.number, "--to", "open", "--actor", "nobody@example.com")
    assert out.returncode == 2 and "not an active agent" in out.stderr and "Traceback" not in out.stderr


def test_only_an_admin_actor_manages_api_keys(backend, tmp_path):
    s = backend.replace(config_file=write_config(tmp_path, ROLES_TOML))
    assert helpline(s, "teams", "sync").returncode == 0
    for email in ("ann@example.com", "ben@example.com", "billing-lead@example.com"):
        out = helpline(s, "api-keys", "create", "--name", "x", "--scope", "read", "--actor", email)
        assert out.returncode == 2 and "You need the admin role to manage API keys" in out.stderr
    out = helpline(
        s,
        "api-keys",
        "create",
        "--name",
        "ann's key",
        "--scope",
        "write",
        "--agent",
        "ann@example.com",
        "--actor",
        "root@example.com",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["agent"] == "ann@example.com"
    (row,) = json.loads(helpline(s, "api-keys", "list", "--json").stdout)
    assert row["agent"] == "ann@example.com"
    assert helpline(s, "api-keys", "revoke", str(made["id"]), "--actor", "ann@example.com").returncode == 2
    assert helpline(s, "api-keys", "revoke", str(made["id"])).returncode == 0


def test_an_incident_reply_by_an_actor_is_under_their_name(backend, tmp_path):
    from helpline.store.tickets import similarity_state as state
    from helpline.store.db import run_tx
    from helpline.store.models import utcnow

    s = backend.replace(
        config_file=write_config(
            tmp_path,
            ROLES_TOML.replace('email = "ann@example.com"\n', 'email = "ann@example.com"\nname = "Ann Agent"\n'),
        ),
        support_addresses=("support@example.com", "billing@example.com"),
    )
    assert helpline(s, "teams", "sync").returncode == 0
    ticket = Desk(s).new_ticket(to="billing@example.com")[0]
    iid = run_tx(lambda: state.create_incident("Login outage", utcnow()))
    run_tx(lambda: state.add_to_incident(iid, [(ticket.id, 0.9)], utcnow()))
    ref = state.incident_number(iid)
    out = helpline(s, "incidents", "reply", ref, "--text", "Fixed since 10:42.", "--actor", "nobody@example.com")
    assert out.returncode == 2 and "not an active agent" in out.stderr
    out = helpline(s, "incidents", "reply", ref, "--text", "Fixed since 10:42.", "--actor", "ann@example.com")
    assert out.returncode == 0, out.stderr
    (reply,) = m.Message.select().where(
        (m.Message.ticket == ticket.id) & (m.Message.direction == "out") & (m.Message.text.contains("Fixed since"))
    )
    assert reply.author == "Ann Agent"
    assert [
        e.actor for e in m.Event.select().where((m.Event.ticket == ticket.id) & (m.Event.kind == "agent_replied"))
    ] == ["ann@example.com"]
