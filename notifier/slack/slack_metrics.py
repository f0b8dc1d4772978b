"""Slack's figures for Prometheus: Web API calls by method and result, and rate-limit holds.

Counted where the calls are made: the Slack sender in the workers and the
scheduler, and the ingest daemon's look-ups (users.info, conversations.info,
usergroups.users.list, conversations.history). prometheus-client's
multiprocess mode sums the processes, so ``/metrics`` on the admin listener
shows them all; the outbox's Slack backlog is read there at scrape time
(``ingest.admin``, ``helpline_outbox_backlog_by_channel{channel="slack"}``).

``result`` is ``ok``, ``rate_limited`` (HTTP 429), ``server_error`` (5xx),
``unreachable`` (no answer) or Slack's own error code (``not_in_channel``,
``is_archived``, …): a bounded set, since Slack's codes are.
"""

from __future__ import annotations

from prometheus_client import Counter

API_CALLS = Counter("helpline_slack_api_calls_total", "Slack Web API calls, by method and result", ["method", "result"])
RATE_LIMIT_HOLDS = Counter(
    "helpline_slack_rate_limit_holds_total",
    "Times Slack answered 429 and a channel (or method) was held for Retry-After",
    ["method"],
)
RATE_LIMIT_SECONDS = Counter(
    "helpline_slack_rate_limit_hold_seconds_total", "Seconds of Retry-After that Slack asked for", ["method"]
)


def api_method(name: str) -> str:
    """``chat_postMessage`` (slack_sdk's Python name) as Slack names it: ``chat.postMessage``."""
    return name.replace("_", ".")


def observe(method: str, result: str) -> None:
    API_CALLS.labels(api_method(method), result[:60] or "unknown").inc()


def held(method: str, seconds: float) -> None:
    RATE_LIMIT_HOLDS.labels(api_method(method)).inc()
    RATE_LIMIT_SECONDS.labels(api_method(method)).inc(max(seconds, 0.0))


def result_of(exc: BaseException) -> str:
    """The ``result`` label of a failed slack_sdk call."""
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        if status == 429:
            return "rate_limited"
        if status >= 500:
            return "server_error"
        data = exc.response.data
        return str(data.get("error") or f"http_{status}") if isinstance(data, dict) else f"http_{status}"
    return "unreachable"
