"""Ingest daemon metrics (prometheus-client; multiprocess-safe)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

INBOUND = Counter(
    "helpline_inbound_total", "Messages offered to Helpline, by channel and result", ["channel", "result"]
)
SMTP_SESSIONS = Gauge("helpline_smtp_sessions", "Open SMTP connections", multiprocess_mode="livesum")
SMTP_REJECTED = Counter("helpline_smtp_rejected_total", "SMTP commands refused", ["reason"])
HTTP_CONNECTIONS_REFUSED = Counter(
    "helpline_http_connections_refused_total", "Public HTTP connections refused with 503 by the connection caps"
)
