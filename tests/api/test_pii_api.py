"""Personal data in the API's answers: masked for every key without the ``pii`` scope (integration keys
included) and for personal keys whose agent may not see it; a key that may, sees it, and the view and any
reveal are audited. Over HTTP, on both databases."""

from __future__ import annotations

import json

from helpline.store.access import api_keys
from helpline.store import models as m
from helpline.store.tickets import routing_state as rs

from .test_ticket_api import events, new_ticket

CARD = "4539 1488 0343 6467"
IBAN = "DE89 3704 0044 0532 0130 00"
BODY = f"Please charge {CARD} for order 55012, or refund to {IBAN}."


def test_answers_are_masked_without_the_pii_scope(api):
    t = new_ticket(api, body=BODY)
    for key in ("read", "admin"):
        body = api.call("GET", f"/tickets/{t.number}", key=key).text
        assert CARD not in body and "0532 0130" not in body and "order 55012" in body, key
        assert "6467" in body and "3000" in body  # the last four stay
    listed = api.call("GET", "/tickets?q=order", key="read").text
    assert CARD not in listed
    assert not events(t, "pii_revealed")


def test_an_integration_key_with_the_pii_scope_sees_it_audited(api):
    t = new_ticket(api, body=BODY)
    key = api_keys.create("crm", ["read", "pii"]).key
    body = api.call("GET", f"/tickets/{t.number}", key=key).json()
    assert CARD in body["messages"][0]["text"]
    (ev,) = events(t, "pii_revealed")
    assert ev.actor == "api:crm" and ev.data["via"] == "api" and ev.data["messages"] == [body["messages"][0]["id"]]
    assert CARD not in json.dumps(ev.data)


def test_a_personal_key_sees_it_only_if_its_agent_may(api):
    t = new_ticket(api, body=BODY)
    ann = api_keys.create("ann", ["read", "pii"], agent="ann@example.com").key
    assert CARD not in api.call("GET", f"/tickets/{t.number}", key=ann).text  # a first-line agent
    msg_id = m.Message.get(m.Message.ticket == t.id).id
    refused = api.call("POST", f"/tickets/{t.number}/messages/{msg_id}/reveal", key=ann)
    assert refused.status_code == 403 and refused.json()["needed"] == "senior"
    rs.Agent.update(role="senior").where(rs.Agent.email == "ben@example.com").execute()
    ben = api_keys.create("ben", ["read", "pii"], agent="ben@example.com").key
    got = api.call("POST", f"/tickets/{t.number}/messages/{msg_id}/reveal", key=ben)
    assert got.status_code == 200 and CARD in got.json()["message"]["text"]
    (ev,) = events(t, "pii_revealed")
    assert (ev.actor, ev.data["via"], ev.data["role"], ev.data["message"]) == (
        "ben@example.com",
        "api",
        "senior",
        msg_id,
    )


def test_reveal_needs_the_scope_and_a_message_of_that_ticket(api):
    t = new_ticket(api, body=BODY)
    other = new_ticket(api, body="Nothing personal here, my order is late.", subject="Late order")
    msg_id = m.Message.get(m.Message.ticket == t.id).id
    assert api.call("POST", f"/tickets/{t.number}/messages/{msg_id}/reveal", key="admin").status_code == 403
    key = api_keys.create("crm", ["read", "pii"]).key
    wrong = api.call("POST", f"/tickets/{other.number}/messages/{msg_id}/reveal", key=key)
    assert wrong.status_code == 404 and not events(t, "pii_revealed") and not events(other, "pii_revealed")
    assert api.call("POST", f"/tickets/{t.number}/messages/x/reveal", key=key).status_code == 404
