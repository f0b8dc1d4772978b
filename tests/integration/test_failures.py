"""Nothing accepted is lost: workers killed, Redis emptied, poison messages, the database gone."""

from __future__ import annotations

import signal
import subprocess

import redis

from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until
from tests.support.outage import Outage
from tests.workers.builders import Desk, mail


def _status_counts() -> dict[str, int]:
    out: dict[str, int] = {}
    for row in m.Inbound.select(m.Inbound.status):
        out[row.status] = out.get(row.status, 0) + 1
    return out


def _flush_queue(settings) -> None:  # noqa: ANN001
    if settings.effective_broker_url.startswith("amqp"):
        vhost = settings.effective_broker_url.rsplit("/", 1)[1]
        for queue in ("inbound", "inbound.DQ", "outbox", "outbox.DQ"):
            subprocess.run(["rabbitmqctl", "-q", "purge_queue", "-p", vhost, queue], capture_output=True, timeout=60)
        return
    client = redis.Redis.from_url(settings.effective_broker_url)
    for key in client.scan_iter(match=settings.queue_name + "*"):
        client.delete(key)


def test_worker_killed_mid_batch_and_redis_flushed_lose_nothing(backbone, relay_sink, tmp_path):
    s = Stack(backbone.replace(smtp_relay=relay_sink.address), tmp_path)
    s.start_ingest().start_scheduler()
    try:
        n = 80
        for i in range(n):
            assert s.send(make_mail(sender=f"c{i}@example.org", body=f"problem number {i}")[0])[0] == 250
        # The worker starts once all are queued, so that it is killed mid-way however fast the broker hands
        # it messages (RabbitMQ gives a worker its whole prefetch at once).
        s.start_worker(processes=1, threads=2)
        wait_until(lambda: m.Inbound.select().where(m.Inbound.status == "processed").count() >= 1, 60)
        s.kill("worker", signal.SIGKILL)  # mid-batch: some processed, some in flight, some queued
        _flush_queue(s.settings)  # and Redis forgets everything it held
        done_before = _status_counts().get("processed", 0)
        assert done_before < n, "the batch finished before the kill; the test proves nothing"
        s.start_worker(processes=1, threads=2)
        wait_until(lambda: _status_counts() == {"processed": n}, 90, what="the sweeper to recover every message")
        assert m.Ticket.select().count() == n
        assert m.Message.select().where(m.Message.direction == "in").count() == n  # none processed twice
    finally:
        s.stop()


def test_message_that_kills_its_worker_ends_in_quarantine(backbone, relay_sink, tmp_path):
    settings = backbone.replace(
        smtp_relay=relay_sink.address, max_attempts=2, worker_middleware=("tests.support.crash_middleware:DieOnPoison",)
    )
    s = Stack(settings, tmp_path)
    s.start_ingest().start_worker(processes=1, threads=1, restart=True).start_scheduler()
    try:
        code, answer = s.send(make_mail(subject="KILL-THE-WORKER please")[0])
        assert code == 250
        poison_id = int(answer.rsplit(" ", 1)[-1])
        wait_until(lambda: m.Inbound.get_by_id(poison_id).status == "quarantined", 120, what="quarantine")
        row = m.Inbound.get_by_id(poison_id)
        assert row.attempts == 2
        assert "worker died" in row.reason
        assert s.send(make_mail(subject="a normal message", sender="bob@example.org")[0])[0] == 250
        wait_until(lambda: m.Ticket.select().count() == 1, 60, what="the next message to be processed")
        assert m.Ticket.get().subject == "a normal message"
    finally:
        s.stop()


def _send_many(s: Stack, n: int, prefix: str) -> list[int]:
    codes: list[int] = []
    for i in range(n):
        codes.append(s.send(make_mail(sender=f"{prefix}{i}@example.org", body=f"{prefix} message {i}")[0])[0])
    return codes


def test_database_down_during_intake_spools_and_drains(backend, relay_sink, tmp_path):
    outage = Outage(backend)
    s = Stack(outage.settings.replace(smtp_relay=relay_sink.address), tmp_path)
    s.start_ingest().start_worker(processes=1, threads=2)
    try:
        assert _send_many(s, 3, "before") == [250] * 3
        outage.cut()
        assert _send_many(s, 5, "during") == [250] * 5
        assert len(list((tmp_path / "data" / "spool").glob("*.msg"))) == 5
        outage.restore()
        wait_until(lambda: _status_counts() == {"processed": 8}, 90, what="the spool to drain")
        assert m.Ticket.select().count() == 8
        assert "event=inbound_spooled" in s.log("ingest") and "event=spool_drained" in s.log("ingest")
    finally:
        s.stop()
        outage.close()


def test_neither_database_nor_spool_answers_451(backend, relay_sink, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the spool directory should be")
    outage = Outage(backend)
    s = Stack(outage.settings.replace(smtp_relay=relay_sink.address, spool_dir=str(blocker / "spool")), tmp_path)
    s.start_ingest()
    try:
        outage.cut()
        code, answer = s.send(make_mail()[0])
        assert code == 451 and "4.3.0" in answer
        outage.restore()
        assert s.send(make_mail()[0])[0] == 250  # and the daemon is still there
    finally:
        s.stop()
        outage.close()


def test_redis_down_during_intake_loses_nothing(backend, relay_sink, tmp_path):
    """SMTP still answers 250 (the row is durable); once Redis is back, the
    sweeper enqueues what could not be enqueued, and the workers recover."""
    from helpline.workers.redis_embedded import EmbeddedRedis

    server = EmbeddedRedis(str(tmp_path / "own-redis" / "redis.sock")).start()
    settings = backend.replace(smtp_relay=relay_sink.address, broker_url=server.url)
    s = Stack(settings, tmp_path).start_ingest().start_worker(processes=1, threads=2).start_scheduler()
    try:
        assert _send_many(s, 2, "before") == [250] * 2
        wait_until(lambda: _status_counts() == {"processed": 2}, 60)
        server.stop()
        assert _send_many(s, 4, "during") == [250] * 4
        assert "event=enqueue_failed" in s.log("ingest")
        server.start()
        wait_until(lambda: _status_counts() == {"processed": 6}, 120, what="recovery after Redis came back")
        assert m.Ticket.select().count() == 6
    finally:
        s.stop()
        server.stop()


def _insert_row(envelope: dict) -> int:
    from helpline.store import fastsql
    from helpline.store.db import run_tx

    return run_tx(
        lambda: fastsql.insert(
            "inbound",
            {
                "channel": "email",
                "external_id": f"poison-{envelope.get('version')}@example.org",
                "content_hash": "f" * 64,
                "status": "pending",
                "reason": "",
                "envelope": envelope,
                "raw_blob_key": "",
                "attempts": 0,
                "received_at": m.utcnow(),
                "updated_at": m.utcnow(),
                "source_host": "test",
            },
        )
    )


def test_message_that_fails_every_time_ends_failed_with_its_reason(backend, relay_sink, tmp_path):
    """An envelope no release can read: every try raises, retries run out, and the row says why instead of
    vanishing."""
    from helpline.workers import actors, broker

    settings = backend.replace(smtp_relay=relay_sink.address, max_attempts=2)
    s = Stack(settings, tmp_path).start_worker(processes=1, threads=1)
    try:
        row_id = _insert_row({"version": 1, "channel": "email", "attachments": [42]})
        broker.setup(s.settings)
        actors.submit(row_id)
        wait_until(lambda: m.Inbound.get_by_id(row_id).status == "failed", 90, what="the row to fail")
        row = m.Inbound.get_by_id(row_id)
        assert row.attempts == 2
        assert "AttributeError" in row.reason
    finally:
        s.stop()


def test_an_envelope_of_a_newer_release_waits_for_a_newer_worker(backbone, relay_sink, tmp_path):
    """A rolling upgrade (issue 16): the ingest daemon writes an envelope version these workers do not know.
    The worker spends no try on it (before: the row ended ``failed`` and the message was dead-lettered) and
    puts it back on the queue with a delay; once a worker can read it (here: the row is rewritten as a newer
    worker would understand it) it is processed, with no sweeper running. Redis and RabbitMQ."""
    from helpline.store.envelope import ENVELOPE_VERSION
    from helpline.workers import actors, broker

    settings = backbone.replace(smtp_relay=relay_sink.address, max_attempts=2, pending_after_s=1.0)
    s = Stack(settings, tmp_path).start_worker(processes=1, threads=1)
    try:
        desk = Desk(settings)
        row_id = desk.deliver(mail()[0])
        envelope = m.Inbound.get_by_id(row_id).envelope
        newer = ENVELOPE_VERSION + 1
        m.Inbound.update(envelope={**envelope, "version": newer}).where(m.Inbound.id == row_id).execute()
        broker.setup(s.settings)
        actors.submit(row_id)
        wait_until(lambda: "no try spent" in m.Inbound.get_by_id(row_id).reason, 60, what="the row to be deferred")
        wait_until(lambda: s.log("worker").count("event=envelope_too_new") >= 1, 10, what="the warning")
        first = m.Inbound.get_by_id(row_id).updated_at
        # the queue offers it again after pending_after_s, and it is deferred again (each deferral touches the row)
        wait_until(lambda: m.Inbound.get_by_id(row_id).updated_at != first, 30, what="the message to come back")
        row = m.Inbound.get_by_id(row_id)
        assert (row.status, row.attempts) == ("pending", 0)
        log = s.log("worker")
        assert log.count("event=envelope_too_new") == 1, log  # once per version, however often it comes back
        assert "inbound_failed" not in log
        m.Inbound.update(envelope=envelope).where(m.Inbound.id == row_id).execute()  # now readable
        wait_until(lambda: m.Inbound.get_by_id(row_id).status == "processed", 60, what="the row to be processed")
        assert m.Ticket.select().count() == 1
    finally:
        s.stop()


def test_batch_holding_a_message_that_kills_its_worker(backend, relay_sink, tmp_path):
    """Rows committed together travel as one queue message. When that batch
    kills its worker, each row runs again on its own: the poison one ends in
    quarantine after its attempts, its neighbours become tickets."""
    from helpline.ingest.intake import EmailIntake
    from helpline.ingest.spool import Spool
    from helpline.store.storage.blobs import FileBlobStore
    from helpline.workers import actors, broker

    settings = backend.replace(
        smtp_relay=relay_sink.address, max_attempts=2, worker_middleware=("tests.support.crash_middleware:DieOnPoison",)
    )
    s = Stack(settings, tmp_path)
    s.start_worker(processes=1, threads=1, restart=True).start_scheduler()
    try:
        intake = EmailIntake(
            settings, FileBlobStore(settings.effective_blob_dir), lambda _id: None, Spool(settings.effective_spool_dir)
        )
        subjects = ["first", "second", "KILL-THE-WORKER now", "fourth", "fifth"]
        ids = [
            intake.accept(
                make_mail(subject=subj, sender=f"c{i}@example.org", body=f"text {i}")[0],
                f"c{i}@example.org",
                ["support@example.com"],
            ).inbound_id
            for i, subj in enumerate(subjects)
        ]
        broker.setup(settings)
        actors.submit_many(ids)
        poison = ids[2]
        wait_until(lambda: m.Inbound.get_by_id(poison).status == "quarantined", 120, what="quarantine")
        wait_until(lambda: _status_counts() == {"processed": 4, "quarantined": 1}, 60, what="the neighbours")
        assert m.Inbound.get_by_id(poison).attempts == 2
        assert sorted(t.subject for t in m.Ticket.select()) == ["fifth", "first", "fourth", "second"]
        assert m.Message.select().where(m.Message.direction == "in").count() == 4  # none processed twice
    finally:
        s.stop()
