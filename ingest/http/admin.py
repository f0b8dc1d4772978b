"""The private listener: /healthz, /readyz, /metrics.

Kept apart from the public listener so that probes and metrics are never
exposed to the internet (HELPLINE_ADMIN_LISTEN is loopback by default).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from helpline.store.config import Settings

from helpline.ingest.http.report_metrics import ReportCollector


class LiveCollector:
    """Values read at scrape time: queue depth (Redis), outbox backlog in total and by channel (the Slack
    backlog is ``channel="slack"``), and IMAP poll times (database)."""

    def __init__(
        self,
        queue_depth: Callable[[], dict[str, int]],
        outbox_backlog: Callable[[], dict[str, int]],
        channel_backlog: Callable[[], dict[tuple[str, str], int]] | None = None,
        imap_times: Callable[[], dict[str, tuple[float | None, float | None]]] | None = None,
    ) -> None:
        self.queue_depth = queue_depth
        self.outbox_backlog = outbox_backlog
        self.channel_backlog = channel_backlog
        self.imap_times = imap_times  # mailbox -> (last success, last error), Unix seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        q = GaugeMetricFamily("helpline_queue_depth", "Messages waiting in each queue", labels=["queue"])
        try:
            for name, n in self.queue_depth().items():
                q.add_metric([name], n)
        except Exception:  # a scrape must not fail because Redis is down; /readyz says so
            pass
        yield q
        o = GaugeMetricFamily("helpline_outbox_backlog", "Outbox rows not yet sent, by status", labels=["status"])
        try:
            for status, n in self.outbox_backlog().items():
                o.add_metric([status], n)
        except Exception:
            pass
        yield o
        if self.channel_backlog is not None:
            yield from self._channel_backlog(self.channel_backlog)
        if self.imap_times is not None:
            yield from self._imap_times(self.imap_times)

    @staticmethod
    def _channel_backlog(read: Callable[[], dict[tuple[str, str], int]]) -> Iterator[GaugeMetricFamily]:
        c = GaugeMetricFamily(
            "helpline_outbox_backlog_by_channel",
            "Outbox rows not yet sent, by channel (slack, email, sms, webhook) and status",
            labels=["channel", "status"],
        )
        try:
            for (channel, status), n in read().items():
                c.add_metric([channel, status], n)
        except Exception:
            pass
        yield c

    @staticmethod
    def _imap_times(read: Callable[[], dict[str, tuple[float | None, float | None]]]) -> Iterator[GaugeMetricFamily]:
        ok = GaugeMetricFamily(
            "helpline_imap_last_success_timestamp_seconds",
            "When the mailbox's last poll finished (alert when it is older than a few IDLE periods)",
            labels=["mailbox"],
        )
        bad = GaugeMetricFamily(
            "helpline_imap_last_error_timestamp_seconds", "When the mailbox's last error happened", labels=["mailbox"]
        )
        try:
            for mailbox, (success, error) in read().items():
                if success is not None:
                    ok.add_metric([mailbox], success)
                if error is not None:
                    bad.add_metric([mailbox], error)
        except Exception:
            pass
        yield ok
        yield bad


def registry(live: LiveCollector | None) -> CollectorRegistry:
    """The metrics of this host's processes (multiprocess files when enabled), plus live values if given."""
    reg = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(reg)
    else:
        from prometheus_client import REGISTRY

        for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - reuse the default collectors
            reg.register(collector)
    if live is not None:
        reg.register(live)
    return reg


def make_probe_app(ready_checks: dict[str, Callable[[], None]], reg: CollectorRegistry) -> web.Application:
    """``/healthz``, ``/readyz`` and ``/metrics``: the ingest daemon's admin listener and a worker host's."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        results: dict[str, str] = {}
        for name, check in ready_checks.items():
            try:
                await asyncio.wait_for(loop.run_in_executor(None, check), timeout=5)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        return web.json_response(
            {"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503
        )

    async def metrics(request: web.Request) -> web.Response:
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, reg)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def make_app(settings: Settings, ready_checks: dict[str, Callable[[], None]], live: LiveCollector) -> web.Application:
    reg = registry(live)
    reg.register(ReportCollector(settings))  # the `helpline report` figures, cached between scrapes
    return make_probe_app(ready_checks, reg)
