"""Slack's Prometheus figures: Web API calls by method and result, rate-limit holds, and the
outbox's Slack backlog on the admin listener's /metrics; with the real slack_sdk against the fake."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, generate_latest

from helpline.ingest.http import admin
from helpline.notifier import outbox
from helpline.notifier.errors import PermanentFailure
from helpline.store import models as m
from helpline.store.views import queries
from helpline.store.db import run_tx

from .conftest import deliver_slack, quick_sender
from .test_slack_replies import Team


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_calls_results_and_rate_limit_holds_are_counted(slack_settings, relay_sink, fake_slack):
    posts = value("helpline_slack_api_calls_total", method="chat.postMessage", result="ok")
    limited = value("helpline_slack_api_calls_total", method="chat.postMessage", result="rate_limited")
    holds = value("helpline_slack_rate_limit_holds_total", method="chat.postMessage")
    held_s = value("helpline_slack_rate_limit_hold_seconds_total", method="chat.postMessage")
    archived = value("helpline_slack_api_calls_total", method="chat.postMessage", result="is_archived")
    team = Team(slack_settings, relay_sink, fake_slack)
    try:
        fake_slack.rate_limit("chat.postMessage", retry_after=7)
        team.customer_writes()  # the parent's first post gets 429, held for 7 s
        assert value("helpline_slack_api_calls_total", method="chat.postMessage", result="rate_limited") == limited + 1
        assert value("helpline_slack_rate_limit_holds_total", method="chat.postMessage") == holds + 1
        assert value("helpline_slack_rate_limit_hold_seconds_total", method="chat.postMessage") == held_s + 7
        m.Outbox.update(next_attempt_at=m.utcnow()).where(m.Outbox.channel == "slack").execute()  # 7 s later
        deliver_slack(team.settings, quick_sender(team.settings))
        assert value("helpline_slack_api_calls_total", method="chat.postMessage", result="ok") == posts + 1
        fake_slack.archived.add("C0GONE")
        with pytest.raises(PermanentFailure):
            quick_sender(team.settings).send({"op": "notice", "channel": "C0GONE", "thread_ts": "", "text": "hi"})
        assert value("helpline_slack_api_calls_total", method="chat.postMessage", result="is_archived") == archived + 1
    finally:
        team.close()


def test_the_slack_backlog_is_on_the_metrics_page(slack_settings):
    def add(key: str, channel: str) -> None:
        run_tx(
            lambda: outbox.enqueue(
                channel=channel,
                kind="slack_notice" if channel == "slack" else "reply",
                recipient="C0X",
                payload={"op": "notice"},
                unique_key=key,
            )
        )

    add("metrics:1", "slack")
    add("metrics:2", "slack")
    add("metrics:3", "email")
    backlog = run_tx(queries.outbox_backlog_by_channel, durable=False)
    assert backlog[("slack", "pending")] == 2 and backlog[("email", "pending")] == 1
    live = admin.LiveCollector(lambda: {}, lambda: {}, lambda: backlog)
    text = generate_latest(admin.registry(live)).decode()
    assert 'helpline_outbox_backlog_by_channel{channel="slack",status="pending"} 2.0' in text
    assert "helpline_slack_api_calls_total" in text
