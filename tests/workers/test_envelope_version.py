"""An older worker meets an envelope of a newer release (issue 16, a rolling upgrade): it leaves the message for
a newer worker instead of spending a try on it. Before, ``Envelope.from_dict``'s ValueError counted as a failure:
the row used up its attempts and ended ``failed``, and Dramatiq dead-lettered the message. No broker here (the
actor's function is called as a worker thread would); tests/integration/test_failures.py goes through one."""

from __future__ import annotations

import logging

import pytest

from helpline.store import models as m
from helpline.store.envelope import ENVELOPE_VERSION, Envelope, NewerEnvelope
from helpline.workers import actors

from .builders import Desk, mail


def _from_the_future(desk: Desk, version: int = ENVELOPE_VERSION + 1) -> int:
    inbound_id = desk.deliver(mail()[0])
    row = m.Inbound.get_by_id(inbound_id)
    m.Inbound.update(envelope={**row.envelope, "version": version}).where(m.Inbound.id == inbound_id).execute()
    return inbound_id


@pytest.fixture
def worker(backend, monkeypatch):
    """The actors configured for this backend, their re-sends recorded instead of queued."""
    settings = backend.replace(max_attempts=2, pending_after_s=45.0)
    actors.configure(settings)
    sent: list[tuple[tuple, int]] = []
    monkeypatch.setattr(actors.process_inbound, "send_with_options", lambda *, args, delay: sent.append((args, delay)))
    monkeypatch.setattr(actors, "_newer_seen", set())
    return Desk(settings), sent


def test_from_dict_names_the_version():
    with pytest.raises(
        NewerEnvelope, match=f"envelope version 7 is newer than this worker understands \\({ENVELOPE_VERSION}\\)"
    ) as got:
        Envelope.from_dict({"version": 7, "channel": "email"})
    assert got.value.version == 7 and isinstance(got.value, ValueError)


def test_a_newer_envelope_is_deferred_without_spending_a_try(worker):
    desk, sent = worker
    inbound_id = _from_the_future(desk)
    for _ in range(4):  # more deliveries than max_attempts: still nothing used up
        actors.process_inbound.fn(inbound_id)
    row = m.Inbound.get_by_id(inbound_id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert f"envelope version {ENVELOPE_VERSION + 1}" in row.reason and "no try spent" in row.reason
    assert sent == [((inbound_id,), 45_000)] * 4  # back on the queue after the sweeper's pending_after_s
    assert m.Ticket.select().count() == 0


def test_a_batch_defers_its_newer_row_and_processes_the_rest(worker):
    desk, sent = worker
    future = _from_the_future(desk)
    ordinary = desk.deliver(mail()[0])
    actors.process_inbound_batch.fn([future, ordinary])
    assert m.Inbound.get_by_id(ordinary).status == "processed"
    row = m.Inbound.get_by_id(future)
    assert (row.status, row.attempts) == ("pending", 0)
    assert sent == [((future,), 45_000)]


def test_the_warning_is_logged_once_per_version(worker, caplog):
    desk, _ = worker
    rows = [_from_the_future(desk), _from_the_future(desk), _from_the_future(desk, ENVELOPE_VERSION + 2)]
    with caplog.at_level(logging.INFO, logger="helpline.workers"):
        for inbound_id in rows + rows:
            actors.process_inbound.fn(inbound_id)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert f"version={ENVELOPE_VERSION + 1} " in warnings[0] and f"version={ENVELOPE_VERSION + 2} " in warnings[1]
    assert all("event=envelope_too_new" in w and "action=deferred" in w for w in warnings)
    assert not any("inbound_failed" in r.getMessage() for r in caplog.records)


def test_the_delay_stays_within_rabbitmqs_bound(tmp_path):
    from helpline.store.config import load
    from helpline.workers import broker

    base = {"HELPLINE_DATA_DIR": str(tmp_path)}
    assert actors.newer_delay_ms(load({**base, "HELPLINE_PENDING_AFTER_S": "1000000"})) == broker.MAX_DELAY_MS
    assert actors.newer_delay_ms(load({**base, "HELPLINE_PENDING_AFTER_S": "0"})) == 500
