"""``POST /api/v1/tickets/{number}/messages/{id}/detach``: a near-duplicate's message becomes its own ticket
through the API (write scope; a personal key's agent needs the merge permission); refusals are clear 4xx."""

from __future__ import annotations

from helpline.store import models as m

from ..duplicates.test_duplicates import OUTAGE, OUTAGE_AGAIN
from ..workers.builders import mail
from .test_personal_keys import personal
from .test_ticket_api import events


def test_detach_over_the_api(api):
    first = api.desk.receive(mail(subject="Internet down", body=OUTAGE)[0])
    second = api.desk.receive(mail(subject="Printer jams too", body=OUTAGE_AGAIN)[0])
    assert second.action == "appended" and second.ticket_id == first.ticket_id
    ticket = m.Ticket.get_by_id(first.ticket_id)
    msg = (
        m.Message.select()
        .where((m.Message.ticket == ticket) & (m.Message.direction == "in"))
        .order_by(m.Message.id.desc())
        .get()
    )
    path = f"/tickets/{ticket.number}/messages/{msg.id}/detach"
    assert api.call("POST", path, key="read").status_code == 403
    agent = api.call("POST", path, key=personal(api, "ann@example.com"))  # an agent may not merge or split
    assert agent.status_code == 403 and agent.json()["needed"] == "senior"
    bad = api.call("POST", path, json={"reason": "x", "extra": 1})
    assert bad.status_code == 422
    assert api.call("POST", f"/tickets/{ticket.number}/messages/abc/detach").status_code == 404
    assert api.call("POST", f"/tickets/HL-1999-000001/messages/{msg.id}/detach").status_code == 404
    ok = api.call("POST", path, json={"reason": "another problem"})
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["ticket"]["subject"] == "Printer jams too" and body["from"]["number"] == ticket.number
    new = m.Ticket.get(m.Ticket.number == body["ticket"]["number"])
    assert m.Message.get_by_id(msg.id).ticket_id == new.id
    (audit,) = events(ticket, "near_duplicate_detached")
    assert audit.actor.startswith("api:") and audit.data["reason"] == "another problem"
    again = api.call("POST", path)
    assert again.status_code == 409 and "did not join" in again.json()["errors"][0]["error"]
    first_msg = m.Message.select().where(m.Message.ticket == ticket).order_by(m.Message.id).get()
    assert api.call("POST", f"/tickets/{ticket.number}/messages/{first_msg.id}/detach").status_code == 409
    assert m.Ticket.select().count() == 2
