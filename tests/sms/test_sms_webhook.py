"""The Twilio webhooks on the public HTTP listener: signatures, answers, replays,
the database being down, the endpoints being off."""

from __future__ import annotations

import pytest

from helpline.ingest import public
from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.store.storage import blobs as blob_mod
from helpline.store import models as m
from helpline.store.config import ConfigError
from helpline.workers import pipeline

from ..support.fake_twilio import PUBLIC_URL, inbound_form, post_signed, sign, status_form
from ..support.outage import Outage
from .conftest import PublicServer, inbound_rows
from .test_sms_sender import queue_reply


def test_signed_text_is_stored_and_answered_with_empty_twiml(sms, server):
    form = inbound_form("My order has not arrived")
    resp = post_signed(server.url, "/twilio/sms", form)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/xml")
    assert resp.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    (row,) = inbound_rows()
    assert (row.channel, row.external_id, row.status) == ("sms", form["MessageSid"], "pending")
    assert row.envelope["sender"] == {"address": "+14155550123", "name": "", "kind": "phone"}
    assert sms.submitted == [row.id]
    assert b"My+order+has+not+arrived" in sms.intake.blobs.get(row.raw_blob_key)  # the raw request is kept


def test_signature_is_checked_over_the_public_url_not_the_local_one(sms, server):
    form = inbound_form("hello")
    local = post_signed(server.url, "/twilio/sms", form, public_url=server.url)  # signed for the host seen here
    assert local.status_code == 403
    with_query = post_signed(server.url, "/twilio/sms?source=main", form)
    assert with_query.status_code == 200  # the query string is part of the signed URL
    assert len(inbound_rows()) == 1


@pytest.mark.parametrize("how", ["forged", "missing", "other_token", "tampered"])
def test_bad_signature_is_403_and_nothing_is_stored(sms, server, how):
    form = inbound_form("Send me your password")
    if how == "forged":
        resp = post_signed(server.url, "/twilio/sms", form, signature="bm90IGEgc2lnbmF0dXJl")
    elif how == "missing":
        resp = post_signed(server.url, "/twilio/sms", form, signature="")
    elif how == "other_token":
        resp = post_signed(server.url, "/twilio/sms", form, token="f" * 32)
    else:
        sig = sign(PUBLIC_URL + "/twilio/sms", form)
        resp = post_signed(server.url, "/twilio/sms", {**form, "Body": "changed"}, signature=sig)
    assert resp.status_code == 403
    assert inbound_rows() == [] and sms.submitted == [] and len(sms.intake.spool) == 0
    assert m.Blob.select().count() == 0


def test_replay_of_the_same_message_sid_is_one_row(sms, server):
    form = inbound_form("Where is my parcel?")
    answers = [post_signed(server.url, "/twilio/sms", form).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert len(inbound_rows()) == 1 and len(sms.submitted) == 1


def test_request_without_message_sid_is_400_and_nothing_is_stored(sms, server):
    form = {"From": "+14155550123", "Body": "hi"}
    resp = post_signed(server.url, "/twilio/sms", form)
    assert resp.status_code == 400 and resp.json()["errors"] == [{"field": "MessageSid", "error": "missing"}]
    assert inbound_rows() == []


def test_endpoints_are_off_without_an_auth_token(backend):
    settings = backend.replace(twilio_auth_token="", public_url=PUBLIC_URL)
    srv = PublicServer(settings, None)
    try:
        for path in ("/twilio/sms", "/twilio/status"):
            assert post_signed(srv.url, path, inbound_form("hi")).status_code == 404
    finally:
        srv.close()


def test_token_without_public_url_refuses_to_start(backend):
    with pytest.raises(ConfigError, match="HELPLINE_PUBLIC_URL"):
        public.make_app(backend.replace(twilio_auth_token="x" * 32, public_url=""))


def test_database_down_spools_answers_200_then_drains(sms, fake_twilio):
    outage = Outage(sms.settings, connect_here=True)
    submitted: list[int] = []
    intake = EmailIntake(
        outage.settings,
        blob_mod.FileBlobStore(outage.settings.effective_blob_dir),
        submitted.append,
        Spool(outage.settings.effective_spool_dir),
    )
    srv = PublicServer(outage.settings, intake)
    try:
        outage.cut()
        forms = [inbound_form(f"Text number {i} while the database is down") for i in range(2)]
        for form in forms:
            resp = post_signed(srv.url, "/twilio/sms", form)
            assert resp.status_code == 200 and "<Response/>" in resp.text
        assert len(intake.spool) == 2 and submitted == []
        outage.restore()
        assert intake.drain_spool() == 2
        assert sorted(r.external_id for r in inbound_rows()) == sorted(f["MessageSid"] for f in forms)
        assert len(submitted) == 2
        # a late retry of a spooled message after the drain is still one row
        assert post_signed(srv.url, "/twilio/sms", forms[0]).status_code == 200
        assert len(inbound_rows()) == 2
    finally:
        srv.close()
        outage.close()


def test_status_callback_is_signed_and_recorded(sms, server, fake_twilio):
    out = sms.text("My order has not arrived")
    fake_twilio.wait_for(1)
    oid = queue_reply(out.ticket_id, "+14155550123", "It ships tomorrow.", key="reply:cb")
    sms.send(pipeline.Outcome("reply", outbox_ids=[oid]))
    call = fake_twilio.created[-1]
    callback = call.form["StatusCallback"]
    assert callback.startswith(PUBLIC_URL + "/twilio/status?ref=")
    path = callback[len(PUBLIC_URL) :]
    forged = post_signed(server.url, path, status_form(call.sid, "delivered"), signature="bm9wZQ==")
    assert forged.status_code == 403
    resp = post_signed(server.url, path, status_form(call.sid, "undelivered", error_code="30003"))
    assert resp.status_code == 200
    row = m.Outbox.get_by_id(oid)
    assert row.status == "failed" and "30003" in row.last_error
    assert m.Message.get_by_id(row.out_message_id).delivery_status == "undelivered"


def test_oversized_request_is_413_and_nothing_is_stored(sms, server):
    form = inbound_form("x" * 70_000)
    resp = post_signed(server.url, "/twilio/sms", form)
    assert resp.status_code == 413 and inbound_rows() == []
