"""``helpline teams|agents`` and the ticket operations as an operator runs them: a subprocess,
the real configuration file and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys

from helpline.store import models as m

from ..support.stack import settings_env
from ..workers.builders import Desk, reload
from .conftest import DESK_TOML, event_data, write_config


def helpline(settings, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_teams_agents_and_ticket_operations(backend, tmp_path):
    s = backend.replace(
        config_file=write_config(tmp_path, DESK_TOML), support_addresses=("support@example.com", "billing@example.com")
    )
    bad = write_config(tmp_path, DESK_TOML.replace("capacity = 3", "capacity = -3"), "bad.toml")
    out = helpline(s, "teams", "sync", "--check", "--file", bad)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        f"helpline: configuration error: {bad}: [agents[1] (email 'ben@example.com')] key 'capacity': must be "
        "between 0 and 10000, not -3" in out.stderr
    )
    out = helpline(s, "teams", "sync", "--check")
    assert out.returncode == 0 and "valid: 3 teams, 6 agents, 1 calendars, 1 routing rules" in out.stdout

    out = helpline(s, "teams", "sync", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["teams_added"] == ["billing", "tech", "experts"]
    assert "up to date" in helpline(s, "teams", "sync").stdout
    teams = json.loads(helpline(s, "teams", "list", "--json").stdout)
    assert teams[0]["agents"] == ["ann@example.com", "ben@example.com"] and teams[1]["default"]
    out = helpline(s, "agents", "set-availability", "ben@example.com", "away")
    assert out.returncode == 0 and out.stdout.strip() == "ben@example.com: away"
    agents = {a["email"]: a for a in json.loads(helpline(s, "agents", "list", "--team", "billing", "--json").stdout)}
    assert agents["ben@example.com"]["availability"] == "away" and agents["ann@example.com"]["capacity"] == 2
    assert helpline(s, "agents", "set-availability", "who@example.com", "busy").returncode == 1

    desk = Desk(s)
    first, second, third = (desk.new_ticket(to="billing@example.com")[0] for _ in range(3))
    assert [reload(t).assignee for t in (first, second, third)] == ["ann@example.com", "ann@example.com", None]

    # Bulk: each ticket on its own; a refused one does not undo the others.
    out = helpline(
        s,
        "tickets",
        "status",
        first.number,
        third.number,
        "--to",
        "resolved",
        "--reason",
        "answered",
        "--actor",
        "ann@example.com",
    )
    assert out.returncode == 0, out.stderr
    assert f"{first.number}: open -> resolved" in out.stdout and f"{third.number}: new -> resolved" in out.stdout
    out = helpline(s, "tickets", "status", first.number, second.number, "--to", "waiting_customer")
    assert out.returncode == 1
    assert f"{first.number}: refused: ticket {first.number} cannot go from resolved to waiting_customer" in out.stderr
    assert f"{second.number}: open -> waiting_customer" in out.stdout
    assert reload(first).status == "resolved" and reload(second).status == "waiting_customer"
    assert [
        e.actor
        for e in m.Event.select()
        .where((m.Event.ticket == first) & (m.Event.kind == "status_changed"))
        .order_by(m.Event.id)
    ][-1] == "ann@example.com"

    out = helpline(s, "tickets", "assign", second.number, "--agent", "tom@example.com")
    assert out.returncode == 1 and "not in team 'billing'" in out.stderr
    out = helpline(s, "tickets", "transfer", second.number, "--team", "tech", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["result"] == "team tech, assigned to tom@example.com"
    out = helpline(s, "tickets", "priority", second.number, "--to", "urgent", "--reason", "customer called")
    assert out.returncode == 0 and "-> urgent" in out.stdout, out.stderr
    assert event_data(second, "priority_changed")[-1]["reason"] == "customer called"
    assert event_data(second, "sla_replanned")[-1]["policy"] == "default:urgent"

    out = helpline(s, "tickets", "show", second.number, "--json")
    detail = json.loads(out.stdout)
    assert detail["assignee"] == "tom@example.com" and detail["team"] == "tech"
    assert {c["target"] for c in detail["sla"]} == {"first_response", "resolution"}
    assert detail["waiting_since"] is not None
    out = helpline(s, "tickets", "show", second.number)
    assert (
        "team: tech  assignee: tom@example.com" in out.stdout
        and "sla resolution: paused (default:urgent)" in out.stdout
    )

    out = helpline(s, "tickets", "merge", third.number, "--into", second.number)
    assert out.returncode == 1 and "cannot go from resolved to merged" in out.stderr
    out = helpline(s, "tickets", "assign", "HL-1999-000001", "--agent", "ann@example.com")
    assert out.returncode == 1 and "no ticket HL-1999-000001" in out.stderr


def test_sync_check_warns_about_categories_no_model_knows(backend, tmp_path):
    """Old default labels (invoice, refund) still count as known; a name no model has is named."""
    s = backend.replace(config_file=write_config(tmp_path, DESK_TOML), models_dir=str(tmp_path / "models"))
    out = helpline(s, "teams", "sync", "--check", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["unknown_categories"] == []
    assert "warning" not in out.stderr
    s = s.replace(config_file=write_config(tmp_path, DESK_TOML.replace('"refund"]', '"warranty"]'), "w.toml"))
    out = helpline(s, "teams", "sync", "--check")
    assert out.returncode == 0 and "no category model knows warranty" in out.stderr
