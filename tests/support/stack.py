"""Real Helpline processes for integration tests: ingest daemon, workers, scheduler.

Each is started the way an operator starts it (``python -m helpline.ingest.cli
…``) with the test's settings in its environment, so the tests exercise the
real SMTP server, broker and worker processes.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from helpline.store.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "1" if value else "0"
        env["HELPLINE_" + f.name.upper()] = str(value)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PROMETHEUS_MULTIPROC_DIR"] = settings.effective_metrics_dir
    os.makedirs(settings.effective_metrics_dir, exist_ok=True)
    return env


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.1, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class Stack:
    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings.replace(
            smtp_listen=f"127.0.0.1:{free_port()}",
            http_listen=f"127.0.0.1:{free_port()}",
            admin_listen=f"127.0.0.1:{free_port()}",
        )
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._keep_workers = threading.Event()

    @property
    def smtp_port(self) -> int:
        return int(self.settings.smtp_listen.rsplit(":", 1)[1])

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "helpline.ingest.cli", *args],
            env=settings_env(self.settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_ingest(self) -> "Stack":
        """Start ``helpline ingest`` and wait until all three listeners take connections: the daemon opens
        SMTP first, and the public HTTP listener a moment later."""
        self._spawn("ingest", "ingest")
        wait_until(self._smtp_up, 30, what="the SMTP port")
        for listen in (self.settings.http_listen, self.settings.admin_listen):
            port = int(listen.rsplit(":", 1)[1])
            wait_until(lambda port=port: self._port_up(port), 30, what=f"the listener on {listen}")
        return self

    def _smtp_up(self) -> bool:
        return self._port_up(self.smtp_port)

    @staticmethod
    def _port_up(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def start_worker(self, processes: int = 1, threads: int = 4, restart: bool = False) -> "Stack":
        """Start ``helpline worker``; with ``restart`` a watcher restarts it when it dies, like systemd would."""
        self._spawn("worker", "worker", "--processes", str(processes), "--threads", str(threads))
        if restart:
            self._keep_workers.set()

            def watch() -> None:
                while self._keep_workers.is_set():
                    proc = self.procs.get("worker")
                    if proc is not None and proc.poll() is not None and self._keep_workers.is_set():
                        self._spawn("worker", "worker", "--processes", str(processes), "--threads", str(threads))
                    time.sleep(0.3)

            threading.Thread(target=watch, daemon=True).start()
        return self

    def start_scheduler(self) -> "Stack":
        self._spawn("scheduler", "scheduler")
        return self

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process and everything under it. ``helpline worker`` runs Dramatiq in a session of its
        own (so that a terminal's signals reach it once, through the supervisor): "the worker killed" means
        its Dramatiq processes too, not only the supervisor, whose death they would survive gracefully."""
        proc = self.procs.get(name)
        if proc and proc.poll() is None:
            import psutil

            try:
                tree = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                tree = []
            os.killpg(proc.pid, sig)
            for child in tree:
                try:
                    child.send_signal(sig)
                except psutil.Error:
                    pass
            proc.wait(30)

    def stop(self) -> None:
        self._keep_workers.clear()
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def send(
        self, raw: bytes, rcpt: str = "support@example.com", mail_from: str = "customer@example.org"
    ) -> tuple[int, str]:
        """One SMTP transaction; returns the answer to DATA (or to RCPT when refused)."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=60) as conn:
            conn.ehlo("test.example")
            conn.mail(mail_from)
            code, answer = conn.rcpt(rcpt)
            if code >= 400:
                return code, answer.decode()
            code, answer = conn.data(raw)
            return code, answer.decode()
