"""``helpline worker``: Dramatiq's worker processes, started again at once when one dies.

Dramatiq's master stops the whole instance when any of its worker children
exits unexpectedly (an out-of-memory kill, a segfault in a C extension): with
one ``helpline worker`` nothing was processed until systemd restarted it. This
supervisor runs the Dramatiq master as its child and starts it again at once
(after 0.5 s, doubling while it keeps dying within ``MIN_UPTIME_S``, at most
30 s), so the same happens under ``helpline run`` and under systemd. SIGTERM and
SIGINT are passed on and end it; SIGHUP is passed on (Dramatiq reloads).
"""
from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from typing import Any, Callable

log = logging.getLogger("helpline.workers")

MIN_UPTIME_S = 10.0
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


def _die_with_parent() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def supervise(argv: list[str], *, spawn: Callable[[list[str]], Any] | None = None) -> int:
    """Run ``argv`` (the Dramatiq command) until a signal says stop; its last exit code."""
    spawn = spawn or (lambda a: subprocess.Popen(a, preexec_fn=_die_with_parent))
    stop = threading.Event()
    child: list[Any] = [None]

    def forward(signum: int, _frame: object) -> None:
        if signum != signal.SIGHUP:
            stop.set()
        if child[0] is not None and child[0].poll() is None:
            child[0].send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    backoff = FIRST_BACKOFF_S
    while True:
        started = time.monotonic()
        child[0] = spawn(argv)
        log.info("event=worker_instance_started pid=%d", child[0].pid)
        code = child[0].wait()
        if stop.is_set():
            return code
        if time.monotonic() - started >= MIN_UPTIME_S:
            backoff = FIRST_BACKOFF_S
        log.error("event=worker_instance_exited code=%s restart_in=%.1fs hint=a_worker_process_died", code, backoff)
        if stop.wait(backoff):
            return code
        backoff = min(backoff * 2, MAX_BACKOFF_S)
