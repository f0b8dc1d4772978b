"""``helpline worker`` as a host: one dead worker process does not stop processing, and the host answers probes.

Dramatiq's master shuts its whole instance down when one of its processes dies;
the worker host starts it again at once, so a single crash costs a moment, not
systemd's RestartSec (the hardening issue's finding 18).
"""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request

import psutil

from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, free_port, wait_until


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError):  # not listening yet
        return 0, b""


def _dramatiq_processes(host_pid: int) -> list[psutil.Process]:
    found = []
    for p in psutil.Process(host_pid).children(recursive=True):
        try:
            if "dramatiq" in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:  # exited between the listing and the look
            pass
    return found


def test_a_killed_worker_process_is_replaced_and_the_host_answers_probes(backend, relay_sink, tmp_path):
    admin = f"127.0.0.1:{free_port()}"
    s = Stack(backend.replace(smtp_relay=relay_sink.address, worker_admin_listen=admin), tmp_path)
    s.start_ingest().start_worker(processes=2, threads=2)  # no restart watcher: the host must do it alone
    try:
        host_pid = s.procs["worker"].pid
        wait_until(lambda: _get(f"http://{admin}/readyz")[0] == 200, 60, what="the worker host's /readyz")
        ready = json.loads(_get(f"http://{admin}/readyz")[1])
        assert ready["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}

        assert s.send(make_mail(sender="a@example.org", body="first")[0])[0] == 250
        wait_until(lambda: m.Ticket.select().count() == 1, 60, what="the first ticket")

        # Kill one of Dramatiq's worker processes (not its master): the master
        # then stops the instance, and the host must start a new one.
        wait_until(lambda: len(_dramatiq_processes(host_pid)) >= 3, 30, what="master and two workers")
        before = {p.pid for p in _dramatiq_processes(host_pid)}
        workers = [p for p in _dramatiq_processes(host_pid) if p.ppid() != host_pid]
        os.kill(workers[0].pid, signal.SIGKILL)
        wait_until(
            lambda: _dramatiq_processes(host_pid) and not ({p.pid for p in _dramatiq_processes(host_pid)} & before),
            60,
            what="a new Dramatiq instance",
        )
        assert s.procs["worker"].poll() is None, "the worker host itself must keep running"

        assert s.send(make_mail(sender="b@example.org", body="second")[0])[0] == 250
        wait_until(lambda: m.Ticket.select().count() == 2, 60, what="a ticket after the crash")
        status, body = _get(f"http://{admin}/metrics")
        assert status == 200 and b"helpline_" in body
    finally:
        s.stop()
