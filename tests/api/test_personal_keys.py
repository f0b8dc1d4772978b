"""Personal API keys (``api-keys create --agent EMAIL``): what they may do is their scopes intersected with
their agent's role, and their replies and notes are authored by that agent. Over HTTP, on both databases."""

from __future__ import annotations

import pytest

from helpline.store.access import api_keys
from helpline.store import models as m
from helpline.store.tickets import routing_state as rs

from .test_ticket_api import events, new_ticket


def personal(api, email: str, role: str = "", scopes: tuple[str, ...] = ("write",)) -> str:
    if role:
        rs.Agent.update(role=role).where(rs.Agent.email == email).execute()
    return api_keys.create(f"{email} laptop", scopes, agent=email).key


def test_a_personal_keys_reply_and_note_are_authored_by_its_agent(api):
    rs.Agent.update(name="Ann Agent").where(rs.Agent.email == "ann@example.com").execute()
    key = personal(api, "ann@example.com")
    t = new_ticket(api, to="billing@example.com", subject="Invoice question")
    r = api.call("POST", f"/tickets/{t.number}/replies", key=key, json={"text": "We are on it."})
    assert r.status_code == 201, r.text
    out = m.Message.get_by_id(r.json()["message"]["id"])
    assert (out.author, out.author_role) == ("Ann Agent", "agent")
    (ev,) = events(t, "agent_replied")
    assert ev.actor == "ann@example.com"
    row = m.Outbox.get((m.Outbox.ticket == t) & (m.Outbox.kind == "reply"))
    assert "Ann Agent" in row.payload["from"]

    forged = api.call("POST", f"/tickets/{t.number}/replies", key=key, json={"text": "Hi", "author": "The CEO"})
    assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "author"
    note = api.call("POST", f"/tickets/{t.number}/notes", key=key, json={"text": "Called back."})
    assert note.status_code == 201
    assert m.Message.get_by_id(note.json()["message"]["id"]).author == "Ann Agent"
    assert events(t, "note_added")[0].actor == "ann@example.com"


def test_a_first_line_key_may_take_but_not_assign_others_transfer_or_merge(api):
    key = personal(api, "ann@example.com")
    t = new_ticket(api, to="billing@example.com", subject="Invoice question")
    other = new_ticket(api, to="billing@example.com", subject="Invoice again")
    before = m.Ticket.get_by_id(t.id).assignee
    refused = api.call("PATCH", f"/tickets/{t.number}", key=key, json={"assignee": "ben@example.com", "force": True})
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["needed"] == "senior" and body["role"] == "agent" and "senior role" in body["errors"][0]["error"]
    assert m.Ticket.get_by_id(t.id).assignee == before
    assert api.call("PATCH", f"/tickets/{t.number}", key=key, json={"team": "tech"}).status_code == 403
    assert api.call("POST", f"/tickets/{t.number}/merge", key=key, json={"into": other.number}).status_code == 403
    assert m.Ticket.get_by_id(t.id).status != "merged"
    took = api.call("PATCH", f"/tickets/{t.number}", key=key, json={"assignee": "ann@example.com", "force": True})
    assert took.status_code == 200 and took.json()["assignee"] == "ann@example.com"
    assert api.call("PATCH", f"/tickets/{t.number}", key=key, json={"priority": "high"}).status_code == 200


def test_a_senior_key_merges_and_a_read_key_of_an_admin_still_only_reads(api):
    senior = personal(api, "ben@example.com", role="senior")
    t = new_ticket(api, to="billing@example.com", subject="Invoice question")
    other = new_ticket(api, to="billing@example.com", subject="Invoice again")
    assert api.call("POST", f"/tickets/{t.number}/merge", key=senior, json={"into": other.number}).status_code == 200
    assert m.Ticket.get_by_id(t.id).status == "merged"
    reader = personal(api, "tom@example.com", role="admin", scopes=("read",))
    assert api.call("GET", f"/tickets/{other.number}", key=reader).status_code == 200
    r = api.call("POST", f"/tickets/{other.number}/notes", key=reader, json={"text": "x"})
    assert r.status_code == 403 and "scope" in r.text


def test_bulk_reports_each_refusal_of_the_role(api):
    key = personal(api, "ann@example.com", scopes=("admin",))
    t = new_ticket(api, to="billing@example.com", subject="Invoice question")
    r = api.call("POST", "/tickets/bulk", key=key, json={"tickets": [t.number], "action": "transfer", "value": "tech"})
    assert r.status_code == 200
    (res,) = r.json()["results"]
    assert res["ok"] is False and res["code"] == 403 and "senior" in res["error"]
    assert m.Ticket.get_by_id(t.id).team == "billing"


def test_a_key_for_someone_who_is_not_an_agent_is_refused(api):
    with pytest.raises(api_keys.ApiKeyError, match="no active agent"):
        api_keys.create("x", ["write"], agent="nobody@example.com")


def test_a_key_whose_agent_left_acts_on_nothing(api):
    key = personal(api, "ann@example.com")
    rs.Agent.update(active=False).where(rs.Agent.email == "ann@example.com").execute()
    t = new_ticket(api, to="billing@example.com", subject="Invoice question")
    r = api.call("POST", f"/tickets/{t.number}/notes", key=key, json={"text": "x"})
    assert r.status_code == 403
