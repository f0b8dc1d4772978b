"""`helpline worker` restarts a Dramatiq instance whose start hangs (it used to restart only one that exited):
the instance must touch HELPLINE_WORKER_READY_FILE (workers/entry.py does, after its imports) in time."""

from __future__ import annotations

import asyncio
import sys
import time

from helpline.ingest.worker_host import WorkerHost

from ..conftest import make_settings

HANGS = [sys.executable, "-c", "import time; time.sleep(600)"]
STARTS = [sys.executable, "-c", "import os, time; open(os.environ['HELPLINE_WORKER_READY_FILE'], 'a'); time.sleep(600)"]


def _run_for(host: WorkerHost, seconds: float) -> None:
    async def go() -> None:
        task = asyncio.create_task(host._supervise())
        await asyncio.sleep(seconds)
        host.stopping.set()
        await task

    try:
        asyncio.run(go())
    finally:
        host._stop_child(timeout=5)


def test_an_instance_that_hangs_at_start_is_killed_and_started_again(tmp_path):
    host = WorkerHost(make_settings(tmp_path, worker_start_timeout_s=0.6), processes=1, threads=1)
    host.argv = HANGS
    started = time.monotonic()
    _run_for(host, 3.5)
    assert host.restarts >= 2, "a hung start was not restarted"
    assert time.monotonic() - started < 15


def test_an_instance_that_got_through_its_start_is_left_alone(tmp_path):
    host = WorkerHost(make_settings(tmp_path, worker_start_timeout_s=0.6), processes=1, threads=1)
    host.argv = STARTS
    _run_for(host, 2.5)
    assert host.restarts == 0 and host.ready
