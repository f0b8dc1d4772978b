"""The durable path every HTTP channel shares (``EmailIntake.accept_request``):
a request is parsed by its adapter, kept as a blob, committed as an inbound row
and enqueued; while the database is down it waits in the spool and is drained
through the same parser."""

from __future__ import annotations

import json

import pytest

from helpline.ingest.intake import EmailIntake, Rejected
from helpline.ingest.spool import Spool
from helpline.store.storage import blobs as blob_mod
from helpline.store import models as m
from helpline.store.envelope import Envelope, Sender

from ..support.outage import Outage


def parse_note(raw: bytes, meta: dict, put_blob) -> Envelope:
    """A tiny channel: a JSON body {"id", "from", "text"}."""
    try:
        body = json.loads(raw)
        return Envelope(
            channel="note",
            external_id=f"{meta['source']}:{body['id']}",
            received_at=meta["received_at"],
            sender=Sender(body["from"], "", "external"),
            text=body["text"],
            full_text=body["text"],
        )
    except (ValueError, KeyError) as exc:
        raise Rejected(f"not a note: {exc}", [{"field": "body", "error": str(exc)}]) from exc


def make_intake(settings):
    submitted: list[int] = []
    intake = EmailIntake(
        settings,
        blob_mod.FileBlobStore(settings.effective_blob_dir),
        submitted.append,
        Spool(settings.effective_spool_dir),
    )
    intake.register("note", parse_note)
    return intake, submitted


def note(n: int, text: str = "my parcel is late") -> bytes:
    return json.dumps({"id": n, "from": "u-42", "text": text}).encode()


def test_request_becomes_durable_row_and_is_enqueued(backend):
    intake, submitted = make_intake(backend)
    result = intake.accept_request("note", note(1), {"source": "app"})
    assert result.status == "accepted" and submitted == [result.inbound_id]
    row = m.Inbound.get_by_id(result.inbound_id)
    assert (row.channel, row.external_id, row.status) == ("note", "app:1", "pending")
    assert intake.blobs.get(row.raw_blob_key) == note(1)
    assert row.envelope["raw_blob_key"] == row.raw_blob_key


def test_same_request_twice_is_one_row_but_new_content_under_old_id_is_kept(backend):
    intake, submitted = make_intake(backend)
    first = intake.accept_request("note", note(1), {"source": "app"})
    again = intake.accept_request("note", note(1), {"source": "app"})
    other = intake.accept_request("note", note(1, "a different text"), {"source": "app"})
    assert again.status == "duplicate" and again.inbound_id == first.inbound_id
    assert other.status == "accepted" and other.inbound_id != first.inbound_id
    assert submitted == [first.inbound_id, other.inbound_id]


def test_bad_request_is_rejected_and_nothing_stored(backend):
    intake, submitted = make_intake(backend)
    with pytest.raises(Rejected) as err:
        intake.accept_request("note", b"{not json", {"source": "app"})
    assert err.value.errors and m.Inbound.select().count() == 0 and not submitted


def test_database_down_spools_then_drains_through_the_same_parser(backend):
    outage = Outage(backend, connect_here=True)
    try:
        intake, submitted = make_intake(outage.settings)
        outage.cut()
        results = [intake.accept_request("note", note(n), {"source": "app"}) for n in (1, 2)]
        assert [r.status for r in results] == ["spooled", "spooled"] and not submitted
        assert len(intake.spool) == 2
        assert intake.drain_spool() == 0  # still down: entries stay
        outage.restore()
        assert intake.drain_spool() == 2 and len(intake.spool) == 0
        rows = list(m.Inbound.select().order_by(m.Inbound.id))
        assert [r.external_id for r in rows] == ["app:1", "app:2"] and len(submitted) == 2
        # the time the request was received survives the spool
        assert all(r.received_at <= r.updated_at for r in rows)
    finally:
        outage.close()


def test_spooled_request_without_adapter_is_quarantined_not_stuck(backend):
    outage = Outage(backend, connect_here=True)
    try:
        intake, _ = make_intake(outage.settings)
        outage.cut()
        assert intake.accept_request("note", note(7), {"source": "app"}).status == "spooled"
        outage.restore()
        intake.builders.clear()  # restarted without that channel configured
        assert intake.drain_spool() == 1
        row = m.Inbound.get()
        assert row.status == "quarantined" and "no note adapter" in row.reason
        assert intake.blobs.get(row.raw_blob_key) == note(7)
    finally:
        outage.close()


def test_scheduler_style_intake_drains_every_http_channel(backend):
    """The scheduler drains the spool with no HTTP app and no channel configured:
    ``public.register_parsers`` must still know every channel's parser."""
    from urllib.parse import urlencode

    from helpline.ingest.public import register_parsers

    outage = Outage(backend, connect_here=True)
    try:
        daemon_side, _ = make_intake(outage.settings)
        register_parsers(daemon_side)
        outage.cut()
        sms = urlencode(
            {
                "MessageSid": "SM" + "1" * 32,
                "From": "+14155550100",
                "To": "+14155550199",
                "Body": "my parcel is late",
                "NumMedia": "0",
            }
        ).encode()
        assert daemon_side.accept_request("twilio_sms", sms, {}).status == "spooled"
        outage.restore()
        submitted: list[int] = []
        scheduler_side = EmailIntake(outage.settings, daemon_side.blobs, submitted.append, daemon_side.spool)
        register_parsers(scheduler_side)
        assert scheduler_side.drain_spool() == 1
        row = m.Inbound.get()
        assert (row.channel, row.status, row.envelope["sender"]["address"]) == ("sms", "pending", "+14155550100")
        assert submitted == [row.id]
    finally:
        outage.close()


def test_concurrent_requests_share_the_batchers_commit(backend):
    from concurrent.futures import ThreadPoolExecutor

    from helpline.ingest.batcher import IntakeBatcher

    intake, submitted = make_intake(backend)
    batcher = IntakeBatcher(intake)
    intake.request_batcher = batcher
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda n: intake.accept_request("note", note(n), {"source": "app"}), range(40)))
        assert [r.status for r in results] == ["accepted"] * 40
        assert sorted(submitted) == sorted(r.inbound_id for r in results)
        assert m.Inbound.select().count() == 40
        with pytest.raises(Rejected):  # a bad request is answered alone
            intake.accept_request("note", b"{not json", {"source": "app"})
        assert intake.accept_request("note", note(1), {"source": "app"}).status == "duplicate"
    finally:
        batcher.close()
