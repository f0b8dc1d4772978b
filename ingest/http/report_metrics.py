"""The report's figures as Prometheus gauges on the admin listener's /metrics.

Computed at scrape time from the database, at most every
``HELPLINE_REPORT_METRICS_CACHE_S`` (a scrape in between gets the cached
figures), over tickets created in the last ``HELPLINE_REPORT_METRICS_DAYS``.
A failing computation yields no report gauges for that scrape; it never fails
the scrape.

A ticket's category may come from an API caller, so it becomes a label value
only when it is configured (a team's ``categories``) or one of the active
model's labels; any other counts as ``other``, keeping the number of series
bounded whatever callers send.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Callable

from prometheus_client.core import GaugeMetricFamily

from helpline.store.config import Settings


OTHER = "other"
UNCLASSIFIED = "unclassified"  # router.report_figures' name for a ticket without a category


def known_categories(settings: Settings) -> frozenset[str]:
    """The categories that may be label values: the teams' configured ones and the model's labels."""
    from helpline.router.categories.category import active_labels, models_dir_for
    from helpline.store.tickets.routing_state import active_teams

    known = {c for team in active_teams() for c in team.categories}
    known.update(active_labels(models_dir_for(settings)))
    return frozenset(known | {UNCLASSIFIED})


def bounded(counts: dict[str, int], known: frozenset[str]) -> dict[str, int]:
    """``counts`` with every key outside ``known`` folded into ``other``."""
    out: dict[str, int] = {}
    for name, n in counts.items():
        key = name if name in known else OTHER
        out[key] = out.get(key, 0) + n
    return out


class ReportCollector:
    def __init__(
        self,
        settings: Settings,
        compute: Callable[[], dict[str, Any]] | None = None,
        categories: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self.settings = settings
        self._compute = compute or self._figures
        self._categories = categories or (lambda: known_categories(settings))
        self._lock = threading.Lock()
        self._at = 0.0
        self._cached: dict[str, Any] | None = None

    def _figures(self) -> dict[str, Any]:
        from helpline.store.clock import utcnow
        from helpline.workers.jobs.reports import figures

        return figures(self.settings, utcnow() - dt.timedelta(days=self.settings.report_metrics_days))

    def figures(self) -> dict[str, Any] | None:
        with self._lock:
            if self._cached is None or time.monotonic() - self._at >= self.settings.report_metrics_cache_s:
                try:
                    figures = self._compute()
                    volume = dict(figures.get("volume") or {})
                    if "category" in volume:
                        volume["category"] = bounded(volume["category"], self._categories())
                    self._cached = {**figures, "volume": volume}
                except Exception:  # the database may be down; /readyz says so
                    return self._cached
                self._at = time.monotonic()
            return self._cached

    def collect(self) -> Any:
        f = self.figures()
        if f is None:
            return
        vol = GaugeMetricFamily(
            "helpline_report_tickets", "Tickets created in the report window", labels=["by", "value"]
        )
        for by, counts in f["volume"].items():
            for value, n in counts.items():
                vol.add_metric([by, value], n)
        yield vol
        dur = GaugeMetricFamily(
            "helpline_report_duration_seconds", "Business-time durations", labels=["measure", "stat"]
        )
        for measure in ("first_response_s", "resolution_s"):
            for stat in ("median", "p90"):
                if f[measure][stat] is not None:
                    dur.add_metric([measure.removesuffix("_s"), stat], f[measure][stat])
        yield dur
        ratio = GaugeMetricFamily("helpline_report_ratio", "Shares of tickets (0-1)", labels=["measure"])
        for name, value in (
            ("fcr", f["fcr"]),
            ("reopen_rate", f["reopen_rate"]),
            ("csat_response_rate", f["csat"]["response_rate"]),
        ):
            if value is not None:
                ratio.add_metric([name], value)
        for target, s in f["sla"].items():
            if s["attainment"] is not None:
                ratio.add_metric([f"sla_{target}"], s["attainment"])
        yield ratio
        csat = GaugeMetricFamily("helpline_report_csat_average", "Average CSAT score (1-5)")
        if f["csat"]["average"] is not None:
            csat.add_metric([], f["csat"]["average"])
        yield csat
        tgt = GaugeMetricFamily("helpline_report_target", "Configured targets", labels=["measure"])
        for name, t in f["targets"].items():
            tgt.add_metric([name], t["target"])
        yield tgt
        load = GaugeMetricFamily("helpline_report_agent_tickets", "Tickets per agent", labels=["agent", "state"])
        for agent, a in f["agents"].items():
            for state in ("assigned", "open", "resolved", "replies"):
                load.add_metric([agent, state], a[state])
        yield load
