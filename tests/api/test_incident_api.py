"""Incidents in the ticket API over HTTP, on SQLite and PostgreSQL: list and show with scopes
and team-bound keys, and one reply to every open ticket of an incident, never sent twice."""

from __future__ import annotations

import pytest

from helpline.store import models as m
from helpline.workers.jobs.incident_grouper import Grouper

from ..routing.conftest import configured_desk
from .conftest import serve
from .test_ticket_api import new_ticket

REPORTS = [
    "Hello, the website is down and the login page shows error 503, since 10 minutes.",
    "Hi, the website is down and the login page shows error 503, for everyone in our office.",
    "Hello, the website is down and the login page shows error 503, on my phone too.",
    "Hey, the website is down and the login page shows error 503, we cannot work.",
]


@pytest.fixture
def api(backend, tmp_path):
    yield from serve(configured_desk(backend, tmp_path, incident_min_customers=3))


def outage(api, n: int = 4) -> list[m.Ticket]:  # noqa: ANN001
    """``n`` customers report one outage; the last one writes to billing@, the others to support@ (tech)."""
    tickets = [
        new_ticket(
            api,
            sender=f"C{i} <c{i}@example{i}.net>",
            subject="Website down",
            body=text,
            to="billing@example.com" if i == n - 1 else "support@example.com",
        )
        for i, text in enumerate(REPORTS[:n])
    ]
    Grouper(api.desk.settings).run_round()  # what the scheduler does a moment later
    return tickets


def test_list_and_show(api):
    tickets = outage(api)
    listed = api.call("GET", "/incidents", key="read")
    assert listed.status_code == 200, listed.text
    (inc,) = listed.json()["incidents"]
    assert (inc["incident"], inc["status"], inc["tickets"], inc["customers"]) == ("INC-000001", "open", 4, 4)
    assert listed.json()["next_cursor"] is None
    shown = api.call("GET", "/incidents/INC-000001", key="read")
    assert shown.status_code == 200
    assert [t["number"] for t in shown.json()["tickets"]] == [t.number for t in tickets]
    assert api.call("GET", "/incidents/1", key="read").json() == shown.json()
    assert api.call("GET", "/incidents?status=resolved", key="read").json()["incidents"] == []
    for ref in ("INC-000002", "nope", "99999999999999999999", "0"):
        assert api.call("GET", f"/incidents/{ref}", key="read").status_code == 404
    assert api.call("GET", "/incidents?status=closed", key="read").status_code == 422
    assert api.call("GET", "/incidents", key=None).status_code == 401
    assert api.call("GET", "/incidents", key="ingest").status_code == 403


def test_a_team_bound_key_sees_its_tickets_only_and_cannot_answer_other_teams_customers(api):
    tickets = outage(api)
    (inc,) = api.call("GET", "/incidents", key="billing").json()["incidents"]
    assert inc["tickets"] == 1
    shown = api.call("GET", "/incidents/INC-000001", key="billing").json()
    assert [t["number"] for t in shown["tickets"]] == [tickets[-1].number]
    refused = api.call("POST", "/incidents/INC-000001/reply", key="billing", json={"text": "Fixed."})
    assert refused.status_code == 409 and "tech" in refused.json()["errors"][0]["error"]
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 0


def test_one_reply_to_every_open_ticket_once(api):
    tickets = outage(api)
    m.Ticket.update(status="closed").where(m.Ticket.id == tickets[0].id).execute()
    assert api.call("POST", "/incidents/INC-000001/reply", key="read", json={"text": "x"}).status_code == 403
    assert api.call("POST", "/incidents/INC-000001/reply", json={"text": "  "}).status_code == 422
    headers = {"Idempotency-Key": "outage-fixed-1"}
    body = {"text": "The login service is back since 10:42. Sorry for the trouble.", "author": "Dana"}
    first = api.call("POST", "/incidents/INC-000001/reply", json=body, headers=headers)
    assert first.status_code == 201, first.text
    out = first.json()
    assert sorted(s["ticket"] for s in out["sent"]) == sorted(t.number for t in tickets[1:])
    assert out["skipped"] == [{"ticket": tickets[0].number, "reason": "the ticket is closed"}]
    rows = list(m.Outbox.select().where(m.Outbox.kind == "reply"))
    assert len(rows) == 3 and sorted(api.delivered) == sorted(r.id for r in rows)
    assert all("back since 10:42" in r.payload["text"] for r in rows)
    again = api.call("POST", "/incidents/INC-000001/reply", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 3
    replied = m.Event.get(m.Event.kind == "incident_replied")
    assert replied.actor == "api:write-client"
