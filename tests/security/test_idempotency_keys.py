"""An Idempotency-Key reused with a different body is refused (422, as Stripe does), never "done".

Before the fix ``POST /api/v1/messages`` answered 202 and a ticket reply 200
``repeated: true`` while the new text went nowhere. On every HTTP route that
takes the header: the webhook API (signed and bearer), ticket replies (email
and webhook tickets) and incident replies; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest

from helpline.ingest.intake import IdempotencyConflict
from helpline.ingest.channels.webhook_api import register_builders
from helpline.store.access import api_keys
from helpline.store import models as m

from ..api.conftest import serve
from ..api.test_incident_api import outage
from ..api.test_ticket_api import new_ticket
from ..routing.conftest import configured_desk
from ..webhook.conftest import hook_settings, server  # noqa: F401 (fixtures)
from ..webhook.support import SOURCES, encode, message, post_bearer, post_signed

KEY_FIELD = "idempotency-key"


def test_webhook_message_key_reused_with_another_body_is_422(server):
    now = int(time.time())
    first = post_signed(server, message(), idempotency_key="m-1", timestamp=now - 2)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    changed = post_signed(server, message(text="Something else entirely."), idempotency_key="m-1", timestamp=now - 1)
    assert changed.status_code == 422, changed.text
    (err,) = changed.json()["errors"]
    assert err["field"] == KEY_FIELD and "different body" in err["error"]
    # the refusal used nothing up: the honest retry of the first body is still its duplicate
    retry = post_signed(server, message(), idempotency_key="m-1", timestamp=now)
    assert retry.json() == {"inbound_id": first.json()["inbound_id"], "status": "duplicate"}
    assert m.Inbound.select().count() == 1 and server.submitted == [first.json()["inbound_id"]]


def test_webhook_message_key_reused_by_an_api_key_client_is_422(server):
    key = api_keys.create("widget", ["ingest"]).key
    assert post_bearer(server, message(), key, **{"Idempotency-Key": "w-1"}).status_code == 202
    again = post_bearer(server, message(subject="Another subject"), key, **{"Idempotency-Key": "w-1"})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == KEY_FIELD
    # attachments count as the body too
    with_file = message(attachments=[{"filename": "a.txt", "content_type": "text/plain", "content": "aGk="}])
    assert post_bearer(server, with_file, key, **{"Idempotency-Key": "w-1"}).status_code == 422
    assert m.Inbound.select().count() == 1


@pytest.fixture
def api(backend, tmp_path):
    settings = backend.replace(webhook_sources=SOURCES, webhook_callbacks="shop=http://127.0.0.1:9/events")
    yield from serve(configured_desk(settings, tmp_path, incident_min_customers=3))


def test_ticket_reply_key_reused_with_another_text_is_422(api):
    t = new_ticket(api)
    path, headers = f"/tickets/{t.number}/replies", {"Idempotency-Key": "reply-1"}
    first = api.call("POST", path, json={"text": "We found your parcel.", "author": "Ann"}, headers=headers)
    assert first.status_code == 201, first.text
    same = api.call("POST", path, json={"text": "We found your parcel.", "author": "Ann"}, headers=headers)
    assert same.status_code == 200 and same.json()["repeated"] is True
    for changed in (
        {"text": "Your parcel is lost, sorry.", "author": "Ann"},
        {"text": "We found your parcel.", "author": "Bob"},
    ):
        refused = api.call("POST", path, json=changed, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 1
    assert m.Message.select().where(m.Message.direction == "out", m.Message.author_role == "agent").count() == 1


def test_reply_on_a_sources_ticket_repeats_or_refuses(api):
    register_builders(api.desk.intake)
    got = api.desk.intake.accept_request(
        "webhook",
        encode(message()),
        {"source": "shop", "auth": "signature", "content_type": "application/json", "idempotency_key": "m-1"},
    )
    ticket = m.Ticket.get_by_id(api.desk.run(got.inbound_id).ticket_id)
    path, headers = f"/tickets/{ticket.number}/replies", {"Idempotency-Key": "hook-reply-1"}
    first = api.call("POST", path, json={"text": "On its way."}, headers=headers)
    assert first.status_code == 201 and first.json()["message"]["channel"] == "webhook", first.text
    again = api.call("POST", path, json={"text": "On its way."}, headers=headers)
    assert again.status_code == 200 and again.json()["repeated"] is True, again.text
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    changed = api.call("POST", path, json={"text": "Lost, sorry."}, headers=headers)
    assert changed.status_code == 422, changed.text
    assert m.Message.select().where(m.Message.direction == "out").count() == 1


def test_incident_reply_key_reused_with_another_text_is_422(api):
    outage(api)
    headers = {"Idempotency-Key": "outage-1"}
    body = {"text": "The login service is back.", "author": "Dana"}
    assert api.call("POST", "/incidents/INC-000001/reply", json=body, headers=headers).status_code == 201
    assert api.call("POST", "/incidents/INC-000001/reply", json=body, headers=headers).json()["repeated"] is True
    changed = api.call("POST", "/incidents/INC-000001/reply", json={**body, "text": "Still down."}, headers=headers)
    assert changed.status_code == 422, changed.text
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 4


def test_two_bodies_sent_at_once_with_one_key_one_is_refused(backend, monkeypatch):
    """The second request waits for the first one's commit (PostgreSQL: a lock per key; SQLite: its one writer),
    then sees its row: before the lock, both were stored on PostgreSQL."""
    from helpline.ingest import intake as intake_module

    from ..webhook.test_webhook_tickets import HookDesk

    desk = HookDesk(backend)
    real, inserted = intake_module._insert_row, threading.Event()

    def slow_first(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        out = real(*args, **kw)
        if not inserted.is_set():  # the first request's row exists, its transaction is still open
            inserted.set()
            time.sleep(1.0)
        return out

    monkeypatch.setattr(intake_module, "_insert_row", slow_first)
    results: dict[str, object] = {}

    def send(name: str, body: dict) -> None:
        try:
            results[name] = desk.intake.accept_request(
                "webhook",
                encode(body),
                {"source": "shop", "auth": "signature", "content_type": "application/json", "idempotency_key": "k"},
            )
        except Exception as exc:  # noqa: BLE001 (the refusal is the result)
            results[name] = exc

    first = threading.Thread(target=send, args=("first", message()))
    first.start()
    assert inserted.wait(10)
    second = threading.Thread(target=send, args=("second", message(text="Another text, same key.")))
    second.start()
    first.join(20)
    second.join(20)
    assert getattr(results["first"], "status", None) == "accepted", results
    assert isinstance(results["second"], IdempotencyConflict), results
    assert m.Inbound.select().count() == 1
