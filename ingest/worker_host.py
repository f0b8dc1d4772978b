"""``helpline worker``: Dramatiq's workers under a small supervisor that a host can be watched through.

Two reasons not to exec Dramatiq's own command directly. Dramatiq's master
shuts the whole instance down when one of its worker processes dies, so a
single crash stopped all processing until systemd restarted the unit seconds
later; this supervisor starts the instance again at once (backing off only
when it keeps dying). And a host that runs only workers had no listener at all:
with ``HELPLINE_WORKER_ADMIN_LISTEN`` set, this process serves ``/healthz``,
``/readyz`` (database, broker, and the Dramatiq instance running) and
``/metrics`` (the worker processes' prometheus-client multiprocess files), so
Prometheus can scrape every host. It speaks systemd's notify protocol, with
the watchdog, like the ingest daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time

from aiohttp import web

from helpline.store import db
from helpline.store.config import Settings, parse_hostport

from helpline.ingest.http import admin
from helpline.workers.systemd import notify as _notify, watchdog_interval_s

log = logging.getLogger("helpline.worker")

# A Dramatiq instance that lived this long is considered healthy again: its
# next exit is restarted at once rather than after the current back-off.
_HEALTHY_AFTER_S = 30.0
_MAX_BACKOFF_S = 30.0


def dramatiq_argv(processes: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "helpline.workers.entry",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--queues",
        "inbound",
        "outbox",
    ]


def _child_setup() -> None:
    os.setsid()
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class WorkerHost:
    """Keeps one Dramatiq instance running and answers for it."""

    def __init__(self, settings: Settings, processes: int, threads: int) -> None:
        self.settings = settings
        self.argv = dramatiq_argv(processes, threads)
        self.child: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.ready = False
        self.ready_file = os.path.join(settings.data_dir, "run", f"worker-{os.getpid()}.ready")
        self.stopping = asyncio.Event()

    def _spawn(self) -> None:
        # Dramatiq forwards SIGTERM to its processes and finishes the messages
        # in flight; its stdout and stderr go where ours go (the journal). Its
        # own session keeps a signal sent to our process group (Ctrl-C, GNU
        # timeout) from reaching it a second time, which Dramatiq takes as
        # "kill now"; the parent-death signal stops it if we are killed.
        os.makedirs(os.path.dirname(self.ready_file), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.ready_file)
        env = dict(os.environ, HELPLINE_WORKER_READY_FILE=self.ready_file)
        self.child = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, preexec_fn=_child_setup, env=env)
        self.started_at = time.monotonic()
        self.ready = False
        log.info("event=worker_instance_started pid=%d", self.child.pid)

    def _hung_start(self) -> bool:
        """True (and the instance killed) when it has not got through its start within the deadline."""
        if self.ready or self.child is None:
            return False
        if os.path.exists(self.ready_file):
            self.ready = True
            return False
        waited = time.monotonic() - self.started_at
        if waited < self.settings.worker_start_timeout_s:
            return False
        log.error("event=worker_instance_hung pid=%d waited_s=%.0f action=kill", self.child.pid, waited)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGKILL)  # its own session (_child_setup): the instance and its processes
        self.child.wait()
        return True

    def running(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def _check_instance(self) -> None:
        if not self.running():
            raise RuntimeError("the Dramatiq instance is not running (restarting)")

    def _check_db(self) -> None:
        db.ping()

    async def _supervise(self) -> None:
        backoff = 0.0
        self._spawn()
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=0.2)
                break
            except asyncio.TimeoutError:
                pass
            if self.running() and not self._hung_start():
                continue
            assert self.child is not None
            code = self.child.returncode
            lived = time.monotonic() - self.started_at
            backoff = 0.0 if lived > _HEALTHY_AFTER_S else min(max(backoff * 2, 1.0), _MAX_BACKOFF_S)
            self.restarts += 1
            log.error("event=worker_instance_exited code=%s lived_s=%.1f restart_in_s=%.0f", code, lived, backoff)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=backoff or 0.01)
                break
            except asyncio.TimeoutError:
                self._spawn()

    async def _watchdog(self) -> None:
        interval = watchdog_interval_s()
        if not interval:
            return
        while not self.stopping.is_set():
            if self.running():  # a supervisor whose instance cannot start is not alive for systemd
                _notify("WATCHDOG=1")
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass

    async def _listen(self) -> web.AppRunner | None:
        if not self.settings.worker_admin_listen:
            return None
        from helpline.workers import broker as queue  # the broker client, for the readiness check only

        probe = queue.make_broker(self.settings)
        checks = {"database": self._check_db, "broker": lambda: queue.ping(probe), "workers": self._check_instance}
        app = admin.make_probe_app(checks, admin.registry(None))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = parse_hostport(self.settings.worker_admin_listen, 8082)
        await web.TCPSite(runner, host, port).start()
        log.info("event=worker_admin_listening address=%s", self.settings.worker_admin_listen)
        return runner

    def _stop_child(self, timeout: float = 110.0) -> int:
        if not self.running():
            return 0
        assert self.child is not None
        self.child.send_signal(signal.SIGTERM)
        try:
            return self.child.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("event=worker_instance_killed reason=stop_timeout")
            self.child.kill()
            return self.child.wait()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        runner = await self._listen()
        watchdog = asyncio.create_task(self._watchdog())
        supervise = asyncio.create_task(self._supervise())
        _notify("READY=1")
        await self.stopping.wait()
        _notify("STOPPING=1")
        await supervise
        watchdog.cancel()
        code = await loop.run_in_executor(None, self._stop_child)
        if runner is not None:
            await runner.cleanup()
        log.info("event=worker_host_stopped code=%s restarts=%d", code, self.restarts)
        return 0


def run(settings: Settings, processes: int, threads: int) -> int:
    if settings.worker_admin_listen:
        db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    return asyncio.run(WorkerHost(settings, processes, threads).run())
