"""``helpline api-keys create --scope read|write|admin --team T`` as an operator runs it, and
the key it prints used against the ticket API."""

from __future__ import annotations

import json

from ..webhook.test_api_key_commands import helpline
from .test_ticket_api import new_ticket


def test_create_team_key_and_use_it(api):
    settings = api.desk.settings
    made = helpline(
        settings, "api-keys", "create", "--name", "billing-bot", "--scope", "write", "--team", "billing", "--json"
    )
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert (out["scopes"], out["team"]) == (["write"], "billing") and out["key"].startswith("hlk_")
    listed = {r["name"]: r for r in json.loads(helpline(settings, "api-keys", "list", "--json").stdout)}
    assert listed["billing-bot"]["team"] == "billing" and out["key"] not in json.dumps(listed)
    assert "team billing" in helpline(settings, "api-keys", "list").stdout

    mine = new_ticket(api, to="billing@example.com", subject="Invoice")
    other = new_ticket(api, subject="Router")
    key = out["key"]
    assert [t["number"] for t in api.call("GET", "/tickets", key=key).json()["tickets"]] == [mine.number]
    assert api.call("PATCH", f"/tickets/{other.number}", key=key, json={"priority": "low"}).status_code == 404
    assert (
        api.call(
            "POST", "/tickets/bulk", key=key, json={"tickets": [mine.number], "action": "priority", "value": "low"}
        ).status_code
        == 403
    )  # admin only
