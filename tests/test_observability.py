"""What operators watch: the Prometheus alert rules pass promtool's own tests, and every metric that the
alert rules and the Grafana dashboard name is one that Helpline exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client.metrics import MetricWrapperBase

from helpline.ingest import metrics as ingest_metrics
from helpline.ingest.http.admin import LiveCollector
from helpline.ingest.http.report_metrics import ReportCollector
from helpline.notifier.slack import slack_metrics
from helpline.workers import metrics as worker_metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "helpline-alerts.yml"
NAME = re.compile(r"\bhelpline_[a-z_]+\b")
SUFFIXES = {
    "counter": ["_total", "_created"],
    "histogram": ["_bucket", "_sum", "_count", "_created"],
    "gauge": [""],
    "summary": ["_sum", "_count"],
}


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: install Debian's prometheus package (.ci/run does)"
    return path


def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = _promtool()
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", "helpline-alerts.test.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert test.returncode == 0, test.stdout + test.stderr


def _exported(settings) -> set[str]:  # noqa: ANN001
    names: set[str] = set()
    for module in (ingest_metrics, worker_metrics, slack_metrics):
        for obj in vars(module).values():
            if isinstance(obj, MetricWrapperBase):
                base = obj._name  # noqa: SLF001 - the exposition name without suffixes
                names.add(base)
                names.update(base + s for s in SUFFIXES.get(obj._type, [""]))  # noqa: SLF001
    live = LiveCollector(
        lambda: {"inbound": 1}, lambda: {"pending": 1}, lambda: {("email", "pending"): 1}, lambda: {"m": (1.0, 2.0)}
    )
    for collector in (live, ReportCollector(settings)):
        names.update(family.name for family in collector.collect())
    return names


def test_every_metric_the_dashboard_and_alerts_name_is_exported(backend) -> None:
    dashboard = json.loads((DEPLOY / "grafana-helpline.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load(RULES.read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    named = {n for e in exprs for n in NAME.findall(e)}
    assert len(named) >= 15, named
    missing = named - _exported(backend)
    assert not missing, f"named in deploy/ but never exported: {sorted(missing)}"


def test_the_dashboard_graphs_what_operators_watch() -> None:
    dashboard = json.loads((DEPLOY / "grafana-helpline.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in (
        "helpline_inbound_total",
        "helpline_queue_depth",
        "helpline_worker_processing_seconds_bucket",
        "helpline_worker_failures_total",
        "helpline_outbox_backlog_by_channel",
        "helpline_sla_fired_total",
        "helpline_imap_last_success_timestamp_seconds",
        "helpline_slack_api_calls_total",
        "helpline_envelope_deferred_total",
    ):
        assert metric in exprs, metric
