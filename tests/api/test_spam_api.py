"""Spam for review over the API: ``GET /api/v1/tickets?status=spam`` lists mail the block list (or the
trusted MTA's filter) filed as spam; a PATCH to ``new`` releases it, to ``closed`` confirms it."""

from __future__ import annotations

from helpline.store.inbound import blocklist
from helpline.store import models as m
from helpline.store.db import run_tx

from ..workers.builders import mail


def test_spam_is_listed_for_review_and_released(api):
    run_tx(lambda: blocklist.add("deals.example", reason="newsletters", added_by="test"))
    spam = [api.desk.receive(mail(sender=f"<offer{i}@deals.example>")[0]) for i in range(2)]
    real = api.desk.receive(mail()[0])
    assert [o.action for o in spam] == ["spam", "spam"] and real.action == "created"
    listed = api.call("GET", "/tickets", params={"status": "spam"}, key="read")
    assert listed.status_code == 200
    numbers = [t["number"] for t in listed.json()["tickets"]]
    assert sorted(numbers) == sorted(m.Ticket.get_by_id(o.ticket_id).number for o in spam)
    assert all(t["status"] == "spam" for t in listed.json()["tickets"])
    first, second = numbers
    assert api.call("PATCH", f"/tickets/{first}", json={"status": "new"}).json()["status"] in (
        "new",
        "open",
    )  # assigned
    released = m.Ticket.get(m.Ticket.number == first)
    assert m.Event.select().where((m.Event.ticket == released) & (m.Event.kind == "spam_released")).exists()
    assert api.call("PATCH", f"/tickets/{second}", json={"status": "closed"}).json()["status"] == "closed"
    bad = api.call("PATCH", f"/tickets/{first}", json={"status": "spam"})
    assert bad.status_code == 409  # back to spam is not a transition: spam is what mail arrives as
