"""One dead worker process must not stop the worker instance (issue 12, fault 18): `helpline
worker` starts Dramatiq again at once, with no systemd (or test watcher) to restart it."""
from __future__ import annotations

import os
import signal
import time

import psutil

from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.store import models as m
from helpline.store.blobs import FileBlobStore
from helpline.workers import actors, broker
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until


def _workers(pid: int) -> list[psutil.Process]:
    """Dramatiq's worker processes under `helpline worker` (the leaves of its process tree)."""
    return [p for p in psutil.Process(pid).children(recursive=True) if not p.children()]


def test_a_killed_worker_process_does_not_stop_processing(backend, relay_sink, tmp_path):
    settings = backend.replace(smtp_relay=relay_sink.address)
    s = Stack(settings, tmp_path).start_worker(processes=2, threads=1)
    try:
        intake = EmailIntake(settings, FileBlobStore(settings.effective_blob_dir), lambda _id: None,
                             Spool(settings.effective_spool_dir))
        broker.setup(settings)
        pid = s.procs["worker"].pid
        wait_until(lambda: len(_workers(pid)) >= 2, 60, what="two worker processes")
        first = intake.accept(make_mail(subject="before", sender="a@example.org", body="The printer is on fire.\n")[0], "a@example.org", ["support@example.com"]).inbound_id
        actors.submit(first)
        wait_until(lambda: m.Inbound.get_by_id(first).status == "processed", 60, what="the first message")
        victim = _workers(pid)[0]
        os.kill(victim.pid, signal.SIGKILL)
        time.sleep(3)
        assert s.procs["worker"].poll() is None, s.log("worker")[-3000:]  # the instance lives on
        second = intake.accept(make_mail(subject="after", sender="b@example.org", body="My invoice shows the wrong VAT number.\n")[0], "b@example.org", ["support@example.com"]).inbound_id
        actors.submit(second)
        wait_until(lambda: m.Inbound.get_by_id(second).status == "processed", 120, what="a message after the kill")
        assert "worker_instance_exited" in s.log("worker")
        assert sorted(t.subject for t in m.Ticket.select()) == ["after", "before"]
    finally:
        s.stop()
