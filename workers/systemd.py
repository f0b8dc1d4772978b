"""systemd's notify protocol (``Type=notify``): READY, STOPPING and the watchdog, for every long-running process.

A process that systemd watches must prove it is alive from the part of it that
does the work, not from a timer that keeps ticking while the work hangs: each
caller passes the liveness test that fits it (the ingest daemon's event loop
turning, the worker host's Dramatiq instance running, the scheduler's loop
having finished a tick recently).
"""

from __future__ import annotations

import os
import threading
from typing import Callable


def notify(message: str) -> None:
    """Send one notify message; a no-op outside systemd (no NOTIFY_SOCKET)."""
    if os.environ.get("NOTIFY_SOCKET"):
        import sdnotify

        sdnotify.SystemdNotifier().notify(message)


def watchdog_interval_s() -> float:
    """Half of systemd's WatchdogSec (0 when the unit has no watchdog)."""
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    return usec / 2e6


def start_watchdog(alive: Callable[[], bool], stop: threading.Event) -> threading.Thread | None:
    """Ping the watchdog from a thread for as long as ``alive()`` holds."""
    interval = watchdog_interval_s()
    if not interval:
        return None

    def beat() -> None:
        while not stop.wait(interval):
            if alive():
                notify("WATCHDOG=1")

    thread = threading.Thread(target=beat, name="systemd-watchdog", daemon=True)
    thread.start()
    return thread
