"""``helpline run``: the embedded all-in-one, a small supervisor.

It starts the bundled Redis (unless a broker URL is set), upgrades the schema,
then runs the ingest daemon, the workers and the scheduler as child processes,
restarting any that dies. On Ctrl-C or SIGTERM it stops them all; should the
supervisor itself be killed, Linux's parent-death signal takes the children down.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from helpline.store.config import Settings, mask_url
from helpline.store.private_paths import private_dir

log = logging.getLogger("helpline.run")


def _die_with_parent() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# Background work yields the CPU to the process that answers senders: an SMTP
# client waits for its 250, a queued message does not mind a few milliseconds.
NICENESS = {"ingest": 0, "worker": 5, "scheduler": 10}

# `helpline` exits with 2 on a configuration error (ingest/cli/main.py).
CONFIG_ERROR_EXIT = 2


def _child_setup(niceness: int):  # noqa: ANN202
    def setup() -> None:
        _die_with_parent()
        if niceness:
            os.nice(niceness)

    return setup


def child_commands(settings: Settings) -> dict[str, list[str]]:
    me = [sys.executable, "-m", "helpline.ingest.cli"]
    return {
        "ingest": me + ["ingest"],
        "worker": me
        + ["worker", "--processes", str(settings.worker_processes), "--threads", str(settings.worker_threads)],
        "scheduler": me + ["scheduler"],
    }


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, float] = {}
        self.stopping = False

    def spawn(self, name: str, argv: list[str]) -> None:
        env = dict(os.environ)
        if self.settings.embedded_redis:
            env["HELPLINE_BROKER_URL"] = self.settings.effective_broker_url
        self.children[name] = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=_child_setup(NICENESS.get(name, 0))
        )
        log.info("event=child_started name=%s pid=%d", name, self.children[name].pid)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def shutdown(self, timeout: float = 30.0) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in self.children.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("event=child_killed name=%s", name)
                proc.kill()
                proc.wait()

    def loop(self, commands: dict[str, list[str]]) -> int:
        """Restart children that die; return 2 when one exits with a configuration error (restarting it
        would only fail again), 0 when stopped."""
        backoff: dict[str, float] = {name: 1.0 for name in commands}
        while not self.stopping:
            for name, proc in list(self.children.items()):
                code = proc.poll()
                if code is None or self.stopping:
                    continue
                if code == CONFIG_ERROR_EXIT:
                    log.error("event=child_config_error name=%s action=stopping_all", name)
                    print(
                        f"helpline: {name} stopped on a configuration error (see above); not restarting it",
                        file=sys.stderr,
                        flush=True,
                    )
                    return CONFIG_ERROR_EXIT
                log.error("event=child_exited name=%s code=%s restart_in=%.0fs", name, code, backoff[name])
                time.sleep(backoff[name])
                backoff[name] = min(backoff[name] * 2, 30.0)
                if not self.stopping:
                    self.spawn(name, commands[name])
            time.sleep(0.2)
        return 0


def run(settings: Settings) -> int:
    from helpline.store import db, migrations

    private_dir(settings.data_dir)
    metrics_dir = settings.effective_metrics_dir
    shutil.rmtree(metrics_dir, ignore_errors=True)  # stale files from a previous run would be summed
    private_dir(metrics_dir)
    redis_server = None
    if settings.embedded_redis:
        from helpline.workers.redis_embedded import EmbeddedRedis

        redis_server = EmbeddedRedis(settings.redis_socket).start()
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    migrations.upgrade()
    db.database().close()

    sup = Supervisor(settings)
    signal.signal(signal.SIGTERM, sup.stop)
    signal.signal(signal.SIGINT, sup.stop)
    commands = child_commands(settings)
    for name, argv in commands.items():
        sup.spawn(name, argv)
    support = ", ".join(settings.support_addresses)
    default_note = (
        "  (default; set HELPLINE_SUPPORT_ADDRESSES)" if settings.support_addresses == ("support@localhost",) else ""
    )
    print(
        "Helpline is running\n"
        f"  SMTP      {settings.smtp_listen}  for {support}{default_note}\n"
        f"  HTTP      {settings.http_listen}\n"
        f"  admin     {settings.admin_listen}  (/healthz /readyz /metrics)\n"
        f"  database  {mask_url(settings.effective_database_url)}\n"
        f"  broker    {mask_url(settings.effective_broker_url)}{' (bundled Redis)' if redis_server else ''}\n"
        f"  relay     {settings.smtp_relay or '(none: outbound mail waits in the outbox)'}\n"
        f"  data      {settings.data_dir}\n"
        "Stop with Ctrl-C.",
        flush=True,
    )
    try:
        code = sup.loop(commands)
    finally:
        sup.shutdown()
        if redis_server:
            redis_server.stop()
        log.info("event=stopped")
    return code
