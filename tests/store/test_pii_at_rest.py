"""HELPLINE_PII_AT_REST=redact: old messages' texts, the inbound envelope and the raw MIME lose their personal
data; newer ones, and a desk without the setting, keep theirs. Through the real pipeline and the scheduler's
tick, on both databases and both blob stores."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.store.storage import blobs
from helpline.store.privacy import pii_at_rest
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.workers import broker, scheduler

from ..workers.builders import Desk, mail

CARD = "4539 1488 0343 6467"


def old_ticket(desk: Desk, days: int, body: str) -> m.Message:
    raw, _ = mail(body=body, subject=f"Payment {days}", sender=f"Customer {days} <c{days}@example.org>")
    outcome = desk.receive(raw)
    msg = (
        m.Message.select()
        .where((m.Message.ticket == outcome.ticket_id) & (m.Message.direction == "in"))
        .order_by(m.Message.id.desc())
        .first()
    )
    m.Message.update(created_at=m.utcnow() - dt.timedelta(days=days)).where(m.Message.id == msg.id).execute()
    return m.Message.get_by_id(msg.id)


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_old_messages_are_redacted_and_their_raw_mime_dropped(backend, tmp_path, blob_backend):
    settings = backend.replace(
        pii_at_rest="redact", pii_at_rest_days=30, blob_backend=blob_backend, blob_dir=str(tmp_path / "blobs")
    )
    broker.setup(settings)
    desk = Desk(settings)
    store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    desk.intake = EmailIntake(settings, store, desk.submitted.append, Spool(settings.effective_spool_dir))
    old = old_ticket(desk, 40, f"Please charge my card {CARD} for order 55012.")
    new = old_ticket(desk, 2, f"And this card {CARD} too, order 55013.")
    assert old.raw_blob_key and CARD.encode() in store.get(old.raw_blob_key)

    done = scheduler.tick(settings, extra={})
    assert done["pii_at_rest"].messages == 1 and done["pii_at_rest"].raw_blobs_dropped == 1
    got = m.Message.get_by_id(old.id)
    assert CARD not in got.text + got.full_text + got.html and "[card ••••6467]" in got.text
    assert "order 55012" in got.text and got.raw_blob_key == ""
    inbound = m.Inbound.get_by_id(got.inbound_id)
    assert CARD not in str(inbound.envelope) and inbound.raw_blob_key == ""
    assert not store.exists(old.raw_blob_key)
    kept = m.Message.get_by_id(new.id)
    assert CARD in kept.text and store.exists(kept.raw_blob_key)
    assert pii_at_rest.redact_due(settings).messages == 0  # once


def test_off_by_default(backend, tmp_path):
    broker.setup(backend)
    desk = Desk(backend)
    old = old_ticket(desk, 400, f"card {CARD}")
    assert "pii_at_rest" not in scheduler.tick(backend, extra={})
    assert run_tx(lambda: pii_at_rest.redact_due(backend)).messages == 0
    assert CARD in m.Message.get_by_id(old.id).text
