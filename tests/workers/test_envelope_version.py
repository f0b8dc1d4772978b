"""An older worker meets an envelope of a newer release (issue 16, a rolling upgrade): it leaves the message for
a newer worker instead of spending a try on it. Before, ``Envelope.from_dict``'s ValueError counted as a failure:
the row used up its attempts and ended ``failed``, and Dramatiq dead-lettered the message. No broker here (the
actor's function is called as a worker thread would); tests/integration/test_failures.py goes through one."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.store.inbound import audit_events
from helpline.store.envelope import ENVELOPE_VERSION, Envelope, NewerEnvelope
from helpline.workers import actors
from helpline.workers.tickets import replies, spam_stage, ticket_ops

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


def _deferred(version: int) -> float:
    return REGISTRY.get_sample_value("helpline_envelope_deferred_total", {"version": str(version)}) or 0.0


def test_every_deferral_is_counted_by_version(worker):
    """The log warns once per version and process; the counter goes on, for the alert that a newer ingest has run
    without a newer worker for half an hour (deploy/prometheus, HelplineEnvelopesDeferred)."""
    desk, _ = worker
    newer, newest = ENVELOPE_VERSION + 1, ENVELOPE_VERSION + 2
    before = _deferred(newer), _deferred(newest)
    rows = [_from_the_future(desk), _from_the_future(desk, newest)]
    for inbound_id in rows + rows + rows[:1]:
        actors.process_inbound.fn(inbound_id)
    after = _deferred(newer), _deferred(newest)
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 2]


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


# ---- outside the inbound pipeline: operations a person asks for, and notices --------------------------------
def _in_tx(fn):  # noqa: ANN001, ANN201
    def tx():  # noqa: ANN202
        with audit_events.buffered_events():
            return fn()

    return run_tx(tx)


def _newer_ticket(desk: Desk, **mail_kw) -> m.Ticket:  # noqa: ANN003
    """A ticket whose customer message a newer release wrote (the row rewritten after the pipeline ran)."""
    ticket, _ = desk.new_ticket(**mail_kw)
    for row in m.Inbound.select().where(m.Inbound.ticket == ticket.id):
        env = {**row.envelope, "version": ENVELOPE_VERSION + 1}
        m.Inbound.update(envelope=env).where(m.Inbound.id == row.id).execute()
    return ticket


def test_a_reply_to_a_newer_message_is_refused_with_what_to_do(backend):
    desk = Desk(backend)
    ticket = _newer_ticket(desk)
    outbox_before = m.Outbox.select().count()
    with pytest.raises(ticket_ops.TicketOpError, match=r"customer's message was stored by a newer Helpline") as got:
        _in_tx(
            lambda: replies.compose(
                ticket.id,
                "We refunded it.",
                agent="ann",
                actor="ann@example.com",
                key=f"reply:{ticket.id}:1",
                settings=desk.settings,
                now=m.utcnow(),
                audit={"via": "cli"},
            )
        )
    assert f"envelope version {ENVELOPE_VERSION + 1}" in str(got.value) and "upgrade this host" in str(got.value)
    assert m.Outbox.select().count() == outbox_before
    assert not m.Event.select().where((m.Event.ticket == ticket.id) & (m.Event.kind == "agent_replied")).exists()


def test_a_status_notice_for_a_newer_message_is_suppressed_with_the_reason(backend):
    desk = Desk(backend.replace(notify_statuses=("open",)))
    ticket = _newer_ticket(desk)
    outbox_before = m.Outbox.select().count()
    _in_tx(lambda: ticket_ops.change_status(ticket_ops.load(ticket.id), "open", now=m.utcnow(), settings=desk.settings))
    assert m.Ticket.get_by_id(ticket.id).status == "open"  # the change itself goes through
    assert m.Outbox.select().count() == outbox_before
    (ev,) = m.Event.select().where((m.Event.ticket == ticket.id) & (m.Event.kind == "customer_notice_suppressed"))
    assert "newer release" in ev.data["reason"] and f"version {ENVELOPE_VERSION + 1}" in ev.data["reason"]


def test_not_spam_on_a_newer_message_is_refused_and_changes_nothing(backend):
    from .test_spam_pipeline import MX, flagged

    desk = Desk(backend.replace(trusted_authserv_id=MX))
    spam_id = desk.receive(flagged("X-Spam-Flag: YES")[0]).ticket_id
    m.Inbound.update(envelope={**m.Inbound.get(m.Inbound.ticket == spam_id).envelope, "version": 9}).where(
        m.Inbound.ticket == spam_id
    ).execute()
    with pytest.raises(ticket_ops.TicketOpError, match=r"first message was stored by a newer .*version 9"):
        _in_tx(
            lambda: spam_stage.release(ticket_ops.load(spam_id), now=m.utcnow(), settings=desk.settings, actor="ann")
        )
    assert m.Ticket.get_by_id(spam_id).status == "spam"
    assert not m.Event.select().where((m.Event.ticket == spam_id) & (m.Event.kind == "spam_released")).exists()
