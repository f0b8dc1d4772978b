"""Worker metrics, written in prometheus-client's multiprocess mode.

``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus_client is imported
(``helpline worker`` sets it to HELPLINE_METRICS_DIR); the ingest daemon's admin
listener aggregates the files, so one scrape sees every worker process.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PROCESSED = Counter("helpline_worker_inbound_total", "Inbound messages handled by workers", ["action"])
LATENCY = Histogram(
    "helpline_worker_processing_seconds",
    "Time to process one inbound message",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FAILURES = Counter("helpline_worker_failures_total", "Inbound processing attempts that raised")
DEFERRED = Counter(
    "helpline_envelope_deferred_total",
    "Inbound messages put back on the queue because their envelope is newer than the worker reads",
    ["version"],
)  # steady growth means a newer ingest runs with no newer worker (a rolling upgrade stuck halfway)
SLA_FIRED = Counter("helpline_sla_fired_total", "SLA warnings and breaches fired by the scheduler", ["kind"])


def observe(action: str, seconds: float) -> None:
    PROCESSED.labels(action).inc()
    LATENCY.observe(seconds)
    if action == "error":
        FAILURES.inc()


def deferred(version: int) -> None:
    DEFERRED.labels(str(version)).inc()
