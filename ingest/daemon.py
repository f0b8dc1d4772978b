"""The ingest daemon: one asyncio process with the SMTP server and both HTTP listeners.

It tells systemd when it listens (``READY=1``) and pings the watchdog from the
event loop, so a wedged loop gets the daemon restarted. Blocking work (parsing,
fsync, commits) runs in a small thread pool so that a slow disk or a locked
database never stalls the other SMTP sessions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from helpline.store import db
from helpline.store.storage import blobs
from helpline.store.views import queries
from helpline.store.config import Settings, parse_hostport

from helpline.ingest import public
from helpline.ingest.http import admin, http_runner
from helpline.ingest import metrics
from helpline.ingest.batcher import IntakeBatcher
from helpline.ingest.conn_limits import ConnectionLimiter, serve_capped
from helpline.ingest.channels.imap_poller import accounts_from_settings, run_imap_pollers
from helpline.ingest.intake import EmailIntake
from helpline.ingest.channels.smtp import Handler, make_factory
from helpline.ingest.spool import Spool
from helpline.workers.systemd import notify as _notify

log = logging.getLogger("helpline.ingest")


class IngestDaemon:
    def __init__(self, settings: Settings) -> None:
        from helpline.workers import actors, broker  # the queue's front door

        self.settings = settings
        db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
        self.checkpointer = db.Checkpointer(settings.effective_database_url).start()
        self.broker = broker.setup(settings)
        broker.short_timeouts(self.broker, 2.0)  # enqueueing only; ingest.enqueuer retries off the commit thread
        self.blobs = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
        self.spool = Spool(settings.effective_spool_dir)
        self.intake = EmailIntake(settings, self.blobs, actors.submit, self.spool, submit_many=actors.submit_many)
        self.imap_accounts = accounts_from_settings(settings)  # a bad URL fails at start-up
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake")
        # HTTP handlers wait here for their group commit; many may wait at once, each costs a thread only.
        self.http_executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="http")
        self.stopping = asyncio.Event()
        self.runners: list[web.AppRunner] = []
        self.smtp_server: asyncio.AbstractServer | None = None
        self.capped: list[asyncio.AbstractServer] = []  # the public HTTP listener (conn_limits.serve_capped)

    # ---- readiness and live metrics -----------------------------------------
    def _check_db(self) -> None:
        db.ping()

    def _check_broker(self) -> None:
        from helpline.workers import broker  # loaded with the daemon's broker in __init__

        broker.ping(self.broker)

    def _queue_depth(self) -> dict[str, int]:
        from helpline.workers import broker  # loaded with the daemon's broker in __init__

        return broker.queue_depth(self.broker, self.settings, ("inbound", "outbox"))

    def _imap_times(self) -> dict[str, tuple[float | None, float | None]]:
        from helpline.ingest.channels.imap_accounts import live_times

        return live_times(self.imap_accounts)

    async def _serve_http(self, app: web.Application, listen: str, default_port: int) -> str:
        host, port = parse_hostport(listen, default_port)
        runner = http_runner.AppRunner(app, access_log=None)  # refused requests are not echoed
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self.runners.append(runner)
        return f"{host}:{port}"

    async def _serve_public(self, app: web.Application) -> str:
        """The public listener: connection caps, and a deadline for each request head
        (aiohttp closes a connection still waiting for one after ``keepalive_timeout``)."""
        s = self.settings
        host, port = parse_hostport(s.http_listen, 8080)
        runner = http_runner.AppRunner(app, access_log=None, keepalive_timeout=s.http_header_timeout_s)
        await runner.setup()
        limiter = ConnectionLimiter(s.http_max_connections, s.http_max_connections_per_ip, s.http_trusted_proxies)
        self.capped.append(
            await serve_capped(runner, host, port, limiter, lambda reason: metrics.HTTP_CONNECTIONS_REFUSED.inc())
        )
        self.runners.append(runner)
        return f"{host}:{port}"

    async def start(self) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="ingest"))
        self.batcher = IntakeBatcher(self.intake)
        self.intake.request_batcher = self.batcher  # HTTP channels share the group commit
        handler = Handler(self.settings, self.intake, self.executor, self.batcher)
        host, port = parse_hostport(self.settings.smtp_listen, 2525)
        self.smtp_server = await loop.create_server(
            make_factory(self.settings, handler), host, port, reuse_address=True, backlog=512
        )
        live = admin.LiveCollector(
            self._queue_depth,
            queries.outbox_backlog,
            queries.outbox_backlog_by_channel,
            self._imap_times if self.imap_accounts else None,
        )
        checks = {"database": self._check_db, "broker": self._check_broker}
        where = {
            "smtp": f"{host}:{port}",
            "http": await self._serve_public(public.make_app(self.settings, self.intake, self.http_executor)),
            "admin": await self._serve_http(
                admin.make_app(self.settings, checks, live), self.settings.admin_listen, 8081
            ),
        }
        log.info("event=ingest_listening smtp=%s http=%s admin=%s", where["smtp"], where["http"], where["admin"])
        return where

    async def _drain_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            if len(self.spool):
                await loop.run_in_executor(self.executor, self.intake.drain_spool)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=min(5.0, self.settings.sweep_interval_s))
            except asyncio.TimeoutError:
                pass

    async def _watchdog_loop(self) -> None:
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        if not usec:
            return
        while not self.stopping.is_set():
            _notify("WATCHDOG=1")
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=usec / 2e6)
            except asyncio.TimeoutError:
                pass

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.start()
        _notify("READY=1")
        tasks = [asyncio.create_task(self._drain_loop()), asyncio.create_task(self._watchdog_loop())]
        imap_task = asyncio.create_task(
            run_imap_pollers(self.settings, self.intake, self.stopping, accounts=self.imap_accounts)
        )
        await self.stopping.wait()
        _notify("STOPPING=1")
        log.info("event=ingest_stopping")
        if self.smtp_server:
            self.smtp_server.close()
        for server in self.capped:
            server.close()
        for runner in self.runners:
            await runner.cleanup()
        await imap_task  # pollers finish their batch, log out and release their leases
        for t in tasks:
            t.cancel()
        self.batcher.close()  # let in-flight intakes finish their commit
        self.checkpointer.stop()
        self.executor.shutdown(wait=True)
        self.http_executor.shutdown(wait=True)


def main(settings: Settings) -> None:
    asyncio.run(IngestDaemon(settings).run())
