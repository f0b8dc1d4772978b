"""``POST /api/v1/messages`` over real HTTP: authentication, answers, durability."""

from __future__ import annotations

import base64
import json
import time

import requests

from helpline.store.access import api_keys
from helpline.store.channels import webhook_state
from helpline.store import models as m

from ..support.outage import Outage
from .support import CRM_SECRET, PublicServer, encode, message, post_bearer, post_signed, signed_headers


def rows() -> list[m.Inbound]:
    return list(m.Inbound.select().order_by(m.Inbound.id))


# ---- signatures ---------------------------------------------------------------------
def test_signed_post_is_accepted_durable_and_enqueued(server):
    answer = post_signed(server, message(metadata={"order": "4711"}))
    assert answer.status_code == 202, answer.text
    data = answer.json()
    assert data["status"] == "accepted" and server.submitted == [data["inbound_id"]]
    row = m.Inbound.get_by_id(data["inbound_id"])
    env = row.envelope
    assert (row.channel, row.status) == ("webhook", "pending")
    assert row.external_id.startswith("shop:sha256:")
    assert env["sender"] == {"address": "ann@example.org", "name": "Ann Customer", "kind": "email"}
    assert env["subject"] == "Order 4711 has not arrived" and env["text"].startswith("Where is my parcel?")
    assert env["metadata"]["fields"] == {"order": "4711"} and env["metadata"]["source"] == "shop"
    assert env["metadata"]["auth"] == "signature"
    assert server.intake.blobs.get(row.raw_blob_key) == encode(message(metadata={"order": "4711"}))


def test_unsigned_post_is_refused_and_nothing_stored(server):
    answer = requests.post(
        server.url + "/api/v1/messages",
        data=encode(message()),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["field"] == "authorization"
    assert rows() == [] and server.submitted == []


def test_wrong_signature_unknown_source_and_tampered_body_are_refused(server):
    raw = encode(message())
    wrong = signed_headers(raw, secret="not-the-secret-of-shop")
    assert requests.post(server.url + "/api/v1/messages", data=raw, headers=wrong, timeout=30).status_code == 401
    unknown = signed_headers(raw, source="stranger", secret="stranger-secret-0123456789")
    assert requests.post(server.url + "/api/v1/messages", data=raw, headers=unknown, timeout=30).status_code == 401
    good = signed_headers(raw)
    tampered = raw.replace(b"Ann", b"Eve")
    assert requests.post(server.url + "/api/v1/messages", data=tampered, headers=good, timeout=30).status_code == 401
    # crm's secret is no key to shop's name
    crossed = signed_headers(raw, source="shop", secret=CRM_SECRET)
    assert requests.post(server.url + "/api/v1/messages", data=raw, headers=crossed, timeout=30).status_code == 401
    half = {k: v for k, v in good.items() if k != "X-Helpline-Signature"}
    assert requests.post(server.url + "/api/v1/messages", data=raw, headers=half, timeout=30).status_code == 401
    assert rows() == []


def test_stale_and_future_timestamps_are_refused(server):
    now = int(time.time())
    for stamp in (now - 301, now + 301):
        answer = post_signed(server, message(), timestamp=stamp)
        assert answer.status_code == 401, stamp
        assert answer.json()["errors"][0]["field"] == "timestamp"
    assert post_signed(server, message(), timestamp=now - 200).status_code == 202  # inside the window
    assert len(rows()) == 1


def test_a_replayed_signature_is_refused(server):
    raw = encode(message())
    headers = signed_headers(raw)
    first = requests.post(server.url + "/api/v1/messages", data=raw, headers=headers, timeout=30)
    again = requests.post(server.url + "/api/v1/messages", data=raw, headers=headers, timeout=30)
    assert first.status_code == 202 and again.status_code == 401
    assert "already used" in again.json()["errors"][0]["error"]
    assert len(rows()) == 1
    assert webhook_state.WebhookSignature.select().count() == 1


def test_old_signatures_are_pruned(server):
    assert post_signed(server, message()).status_code == 202
    assert webhook_state.prune(time.time() + webhook_state.REPLAY_KEEP_S + 5) == 1
    assert webhook_state.WebhookSignature.select().count() == 0


# ---- idempotency ----------------------------------------------------------------------
def test_idempotency_key_retry_is_one_row_and_a_new_body_under_it_is_kept(server):
    now = int(time.time())
    first = post_signed(server, message(), idempotency_key="order-4711-msg-1", timestamp=now)
    # the client's retry, signed again a second later (the same second would be the same signature: a replay)
    retry = post_signed(server, message(), idempotency_key="order-4711-msg-1", timestamp=now + 1)
    assert first.status_code == retry.status_code == 202
    assert retry.json() == {"inbound_id": first.json()["inbound_id"], "status": "duplicate"}
    assert [r.external_id for r in rows()] == ["shop:order-4711-msg-1"]
    # the same JSON with another key order and spacing is the same message
    reordered = json.dumps(dict(reversed(list(message().items()))), indent=2).encode()
    assert (
        post_signed(server, reordered, idempotency_key="order-4711-msg-1", timestamp=now + 2).json()["status"]
        == "duplicate"
    )
    # a different message reusing the key is refused, not silently dropped or kept (ARCHITECTURE.md; as Stripe does)
    other = post_signed(
        server, message(text="A different question."), idempotency_key="order-4711-msg-1", timestamp=now + 3
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "idempotency-key"
    assert len(rows()) == 1 and len(server.submitted) == 1


def test_idempotency_keys_are_scoped_to_their_source(server):
    a = post_signed(server, message(), idempotency_key="k1", timestamp=int(time.time()) - 1)
    b = post_signed(server, message(), idempotency_key="k1", source="crm", secret=CRM_SECRET)
    assert a.json()["status"] == b.json()["status"] == "accepted"
    assert sorted(r.external_id for r in rows()) == ["crm:k1", "shop:k1"]


# ---- API keys ------------------------------------------------------------------------------
def test_bearer_key_good_revoked_unknown_and_wrong_scope(server):
    key = api_keys.create("chat-widget", ["ingest"])
    good = post_bearer(server, message(), key.key)
    assert good.status_code == 202, good.text
    row = m.Inbound.get_by_id(good.json()["inbound_id"])
    assert row.envelope["metadata"]["source"] == "chat-widget" and row.envelope["metadata"]["auth"] == "api_key"
    assert api_keys.ApiKey.get_by_id(key.id).last_used_at is not None

    api_keys.revoke(key.id)
    assert post_bearer(server, message(text="again"), key.key).status_code == 401
    assert post_bearer(server, message(text="again"), "hlk_" + "x" * 43).status_code == 401
    assert post_bearer(server, message(text="again"), "not-even-a-key").status_code == 401

    # a key made for another purpose (the routing issue adds scopes) cannot post messages
    other = "hlk_" + "r" * 43
    api_keys.ApiKey.create(name="reports", prefix=other[:12], key_hash=api_keys.hash_key(other), scopes="tickets:read")
    refused = post_bearer(server, message(text="again"), other)
    assert refused.status_code == 403 and "scope" in refused.json()["errors"][0]["error"]
    assert len(rows()) == 1
    raw = encode(message())
    basic = requests.post(
        server.url + "/api/v1/messages",
        data=raw,
        timeout=30,
        headers={"Content-Type": "application/json", "Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert basic.status_code == 401


def test_only_a_hash_of_the_key_is_stored(server):
    key = api_keys.create("ci", ["ingest"])
    stored = api_keys.ApiKey.get_by_id(key.id)
    assert key.key.startswith("hlk_") and len(key.key) > 40
    assert key.key not in (stored.key_hash, stored.prefix) and stored.key_hash == api_keys.hash_key(key.key)
    assert key.key.startswith(stored.prefix)


# ---- bad input ----------------------------------------------------------------------------
def test_field_errors_are_listed_together(server):
    answer = post_signed(
        server,
        {
            "customer": {"email": "not-an-address", "phone": "030 1234", "nick": "x"},
            "subject": 42,
            "metadata": {"order": 4711, "bad key": "v"},
            "ticket": "42",
            "attachments": [{"filename": "a.txt", "content": "%%%"}],
            "acknowledge": "yes",
            "colour": "blue",
        },
    )
    assert answer.status_code == 400
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {
        "customer.email",
        "customer.phone",
        "customer.nick",
        "subject",
        "text",
        "metadata.order",
        "metadata.bad key",
        "ticket",
        "attachments[0].content",
        "acknowledge",
        "colour",
    } <= fields
    assert rows() == [] and server.submitted == []


def test_invalid_json_missing_fields_and_wrong_shapes(server):
    for body, field in (
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (encode({"text": "hi"}), "customer"),
        (encode({"customer": {}, "text": "hi"}), "customer"),
        (encode({"customer": {"email": "a@example.org"}}), "text"),
    ):
        answer = post_signed(server, body)
        assert answer.status_code == 400, body
        assert field in {e["field"] for e in answer.json()["errors"]}, (body, answer.text)
    wrong_type = post_signed(server, encode(message()), content_type="text/plain")
    assert wrong_type.status_code == 415
    assert rows() == []


def test_a_rejected_request_can_be_corrected_and_resent(server):
    """The signature of a refused request is released: its fixed retry is no replay."""
    raw = encode({"customer": {"email": "ann@example.org"}})
    headers = signed_headers(raw)
    assert requests.post(server.url + "/api/v1/messages", data=raw, headers=headers, timeout=30).status_code == 400
    assert requests.post(server.url + "/api/v1/messages", data=raw, headers=headers, timeout=30).status_code == 400


def test_over_the_size_limit_is_413(hook_settings):
    srv = PublicServer(hook_settings.replace(max_message_bytes=4000)).start()
    try:
        big = message(text="x" * 5000)
        assert post_signed(srv, big).status_code == 413
        raw = encode(big)  # no Content-Length: the limit holds while reading, too
        chunked = requests.post(
            srv.url + "/api/v1/messages", data=iter([raw[:2000], raw[2000:]]), headers=signed_headers(raw), timeout=30
        )
        assert chunked.status_code == 413
        assert post_signed(srv, message()).status_code == 202
        assert len(rows()) == 1
    finally:
        srv.stop()


def test_a_source_over_its_rate_limit_gets_429(hook_settings):
    # The limit is a per-minute window (the previous minute counts in part): start early in a
    # minute so a slow machine cannot carry the requests across into the next one.
    if time.time() % 60 > 30:
        time.sleep(60.5 - time.time() % 60)
    srv = PublicServer(hook_settings.replace(webhook_rate_per_minute=3)).start()
    try:
        answers = [post_signed(srv, message(text=f"question {i}")).status_code for i in range(4)]
        assert answers == [202, 202, 202, 429]
        limited = post_signed(srv, message(text="question 5"))
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
        # another source has its own budget
        assert post_signed(srv, message(text="from crm"), source="crm", secret=CRM_SECRET).status_code == 202
        assert len(rows()) == 4
    finally:
        srv.stop()


# ---- attachments -------------------------------------------------------------------------
def test_attachments_in_json_and_as_multipart(server):
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 4
    answer = post_signed(
        server, message(attachments=[{"filename": "../../invoice.pdf", "content": base64.b64encode(pdf).decode()}])
    )
    assert answer.status_code == 202, answer.text
    att = m.Inbound.get_by_id(answer.json()["inbound_id"]).envelope["attachments"][0]
    assert (att["filename"], att["content_type"], att["size"]) == ("invoice.pdf", "application/pdf", len(pdf))
    assert server.intake.blobs.get(att["blob_key"]) == pdf

    prepared = requests.Request(
        "POST",
        server.url + "/api/v1/messages",
        files={
            "message": (None, json.dumps(message(text="with a photo")), "application/json"),
            "photo": ("naïve café.png", b"\x89PNG\r\n" + bytes(300), "image/png"),
        },
    ).prepare()
    prepared.headers.update(
        {k: v for k, v in signed_headers(prepared.body, content_type=prepared.headers["Content-Type"]).items()}
    )
    multipart = requests.Session().send(prepared, timeout=30)
    assert multipart.status_code == 202, multipart.text
    env = m.Inbound.get_by_id(multipart.json()["inbound_id"]).envelope
    assert env["text"] == "with a photo"
    assert [(a["filename"], a["content_type"], a["size"]) for a in env["attachments"]] == [
        ("naïve café.png", "image/png", 306)
    ]


def test_html_is_sanitised_and_gives_the_text(server):
    html = '<p onclick="steal()">Hello <b>there</b><script>alert(1)</script><img src="https://t.example/x.gif"></p>'
    answer = post_signed(server, {"customer": {"external_id": "u-42", "name": "Bo"}, "html": html})
    env = m.Inbound.get_by_id(answer.json()["inbound_id"]).envelope
    assert "script" not in env["html"] and "onclick" not in env["html"] and "t.example" not in env["html"]
    assert env["text"] == "Hello there"
    assert env["sender"] == {"address": "shop:u-42", "name": "Bo", "kind": "external"}


# ---- the database away -------------------------------------------------------------------
def test_database_down_spools_with_202_then_drains(hook_settings):
    outage = Outage(hook_settings, connect_here=True)
    srv = PublicServer(outage.settings).start()
    try:
        outage.cut()
        answer = post_signed(srv, message(), idempotency_key="during-outage")
        assert answer.status_code == 202 and answer.json() == {"inbound_id": None, "status": "spooled"}
        assert len(srv.intake.spool) == 1 and srv.submitted == []
        # A key needs a read: PostgreSQL unreachable gives a clear temporary answer; SQLite
        # locked by a writer still reads (WAL), so the unknown key is refused as such.
        expected = 401 if hook_settings.effective_database_url.startswith("sqlite") else 503
        assert post_bearer(srv, message(), "hlk_" + "k" * 43).status_code == expected
        outage.restore()
        assert srv.intake.drain_spool() == 1
        (row,) = rows()
        assert row.external_id == "shop:during-outage" and srv.submitted == [row.id]
        assert row.envelope["metadata"]["source"] == "shop"
        # a retry of the same message after the outage is the same row
        assert (
            post_signed(srv, message(), idempotency_key="during-outage", timestamp=int(time.time()) + 1).json()[
                "status"
            ]
            == "duplicate"
        )
    finally:
        srv.stop()
        outage.close()
