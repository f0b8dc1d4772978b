"""Makes a test's real database unreachable and back again.

PostgreSQL: the test's settings point at a TCP proxy that is cut (a stopped
or partitioned server). SQLite: another connection holds the write lock far
past the busy timeout.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

from helpline.store import db
from helpline.store.config import Settings

from .tcpproxy import TcpProxy


class Outage:
    def __init__(self, settings: Settings, *, connect_here: bool = False) -> None:
        """``settings`` gains the proxy and short timeouts (``self.settings``);
        with ``connect_here`` this test process also talks to the database through them."""
        self.url = settings.effective_database_url
        self.proxy: TcpProxy | None = None
        self.locker: sqlite3.Connection | None = None
        if self.url.startswith("sqlite"):
            self.settings = settings.replace(db_busy_timeout_ms=300)
        else:
            parts = urlsplit(self.url)
            self.proxy = TcpProxy(parts.hostname, parts.port or 5432)
            proxied = self.url.replace(parts.netloc, f"{parts.username or 'postgres'}@127.0.0.1:{self.proxy.port}")
            self.settings = settings.replace(database_url=proxied, db_busy_timeout_ms=1000)
        if connect_here:
            db.init(self.settings.effective_database_url, self.settings.db_busy_timeout_ms)

    def cut(self) -> None:
        if self.proxy:
            self.proxy.cut()
        else:
            self.locker = sqlite3.connect(urlsplit(self.url).path, isolation_level=None, timeout=5)
            self.locker.execute("BEGIN EXCLUSIVE")

    def restore(self) -> None:
        if self.proxy:
            self.proxy.restore()
        elif self.locker:
            self.locker.execute("ROLLBACK")
            self.locker.close()
            self.locker = None

    def close(self) -> None:
        self.restore()
        if self.proxy:
            self.proxy.close()
