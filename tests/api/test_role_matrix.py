"""Each role against each ticket action the API offers, through personal keys whose scopes allow everything:
the role alone decides, as router/permissions.py's table says. On both databases."""

from __future__ import annotations

import pytest

from helpline.router.permissions import RANK, TABLE
from helpline.store.access import api_keys
from helpline.store import models as m
from helpline.store.tickets import routing_state as rs
from helpline.store.siteconfig.config_file import ROLES

from .test_ticket_api import new_ticket


@pytest.mark.parametrize("role", ROLES)
def test_role_against_every_api_action(api, role):
    rs.Agent.update(role=role).where(rs.Agent.email == "ann@example.com").execute()
    key = api_keys.create("ann", ["admin"], agent="ann@example.com").key
    t = new_ticket(api, to="billing@example.com", subject="Invoice question")
    a, b = (new_ticket(api, to="billing@example.com", subject=f"Invoice {n}") for n in (1, 2))
    calls = [
        ("reply", "POST", f"/tickets/{t.number}/replies", {"text": "On it."}),
        ("note", "POST", f"/tickets/{t.number}/notes", {"text": "Looked."}),
        ("status", "PATCH", f"/tickets/{t.number}", {"status": "waiting_customer"}),
        ("triage", "PATCH", f"/tickets/{t.number}", {"priority": "high", "category": "invoice"}),
        ("assign_self", "PATCH", f"/tickets/{t.number}", {"assignee": "ann@example.com", "force": True}),
        ("assign_others", "PATCH", f"/tickets/{t.number}", {"assignee": "ben@example.com", "force": True}),
        ("transfer", "PATCH", f"/tickets/{t.number}", {"team": "tech"}),
        ("merge", "POST", f"/tickets/{a.number}/merge", {"into": b.number}),
    ]
    for action, method, path, body in calls:
        r = api.call(method, path, key=key, json=body)
        if RANK[role] >= RANK[TABLE[action][0]]:
            assert r.status_code in (200, 201), (action, r.text)
        else:
            assert r.status_code == 403, (action, r.text)
            assert r.json()["needed"] == TABLE[action][0] and r.json()["role"] == role
    assert (m.Ticket.get_by_id(a.id).status == "merged") is (RANK[role] >= RANK["senior"])


@pytest.mark.parametrize("role", ROLES)
def test_role_against_seeing_personal_data(api, role):
    rs.Agent.update(role=role).where(rs.Agent.email == "ann@example.com").execute()
    key = api_keys.create("ann", ["read", "pii"], agent="ann@example.com").key
    card = "4539 1488 0343 6467"
    t = new_ticket(api, to="billing@example.com", subject="Card", body=f"Charge {card} please.")
    allowed = RANK[role] >= RANK[TABLE["see_pii"][0]]
    assert (card in api.call("GET", f"/tickets/{t.number}", key=key).text) is allowed
    msg = m.Message.get(m.Message.ticket == t.id).id
    r = api.call("POST", f"/tickets/{t.number}/messages/{msg}/reveal", key=key)
    assert r.status_code == (200 if allowed else 403)
