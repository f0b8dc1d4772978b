"""A hung broker must not stall intake (fault 14), and rows it did not take are queued within
seconds once it answers, or when the sender retries (fault 15). The broker is a real redis-py
client against a listener that accepts and never answers (a hung Redis)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpline.ingest.batcher import IntakeBatcher
from helpline.ingest.intake import EmailIntake, Offer
from helpline.ingest.spool import Spool
from helpline.store.storage import blobs as blob_mod
from helpline.store import models as m
from tests.support.mail import make_mail


class HungRedis:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


class Queue:
    """``submit`` as the ingest daemon's: a Redis LPUSH, here against a hung server until healed."""

    def __init__(self, hung_port: int) -> None:
        self.client = redis.Redis(
            host="127.0.0.1", port=hung_port, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )  # the ingest daemon's short timeout, one try
        self.healed = False
        self.got: list[int] = []

    def submit(self, inbound_id: int) -> None:
        if not self.healed:
            self.client.lpush("q", inbound_id)  # blocks for socket_timeout, then raises
        self.got.append(inbound_id)


def _intake(settings, q: Queue) -> EmailIntake:  # noqa: ANN001
    return EmailIntake(
        settings, blob_mod.FileBlobStore(settings.effective_blob_dir), q.submit, Spool(settings.effective_spool_dir)
    )


def test_hung_broker_does_not_slow_intake_and_rows_are_queued_once_it_answers(backend):
    hung = HungRedis()
    q = Queue(hung.port)
    intake = _intake(backend, q)
    batcher = IntakeBatcher(intake)
    try:
        took = []
        ids = []
        for i in range(6):
            started = time.monotonic()
            result = batcher.submit(
                Offer(make_mail(subject=f"m{i}")[0], "a@example.org", ["support@example.com"])
            ).result(30)
            took.append(time.monotonic() - started)
            ids.append(result.inbound_id)
            assert result.status == "accepted"
        assert max(took) < 1.5, took  # before: each commit waited for the broker's timeout
        q.healed = True
        deadline = time.monotonic() + 12
        while sorted(q.got) != sorted(ids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(q.got) == sorted(ids)  # within seconds, not the sweeper's minutes
    finally:
        q.healed = True
        batcher.close()
        hung.close()


def test_senders_retry_requeues_a_row_still_pending(backend):
    hung = HungRedis()
    q = Queue(hung.port)
    intake = _intake(backend, q)
    raw = make_mail(subject="lost enqueue")[0]
    try:
        first = intake.accept(raw, "a@example.org", ["support@example.com"])  # enqueue fails: still pending
        assert first.status == "accepted" and q.got == []
        q.healed = True
        again = intake.accept(raw, "a@example.org", ["support@example.com"])
        assert again.status == "duplicate" and q.got == []  # moments later it may just be waiting its turn
        m.Inbound.update(updated_at=m.utcnow() - dt.timedelta(seconds=60)).where(
            m.Inbound.id == first.inbound_id
        ).execute()  # the sender's retry comes a minute later
        again = intake.accept(raw, "a@example.org", ["support@example.com"])
        assert again.status == "duplicate" and again.inbound_id == first.inbound_id
        assert q.got == [first.inbound_id]
    finally:
        hung.close()
