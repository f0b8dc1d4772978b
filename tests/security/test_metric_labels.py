"""A category set through the ticket API must not become a /metrics label value unless it is
configured (a team's categories) or one of the model's labels: others count as ``other``."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from helpline.ingest.http.report_metrics import ReportCollector

from ..api.conftest import serve
from ..routing.conftest import configured_desk


def _category_labels(settings) -> dict[str, float]:  # noqa: ANN001
    reg = CollectorRegistry()
    reg.register(ReportCollector(settings.replace(report_metrics_cache_s=0)))
    text = generate_latest(reg).decode()
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'helpline_report_tickets\{by="category",value="([^"]*)"\} (\S+)', text)
    }


def test_api_supplied_categories_count_as_other(backend, tmp_path):
    api = serve(configured_desk(backend, tmp_path))
    client = next(api)
    try:
        numbers = [client.desk.new_ticket(subject=f"Question {i}")[0].number for i in range(5)]
        for number, category in zip(
            numbers, ["invoice", "x-attacker-1", "x-attacker-2", "Ünïcode label", "refund"], strict=False
        ):
            r = client.call("PATCH", f"/tickets/{number}", json={"category": category})
            assert r.status_code == 200, r.text
        labels = _category_labels(client.desk.settings)
    finally:
        next(api, None)
    assert labels.get("invoice") == 1 and labels.get("refund") == 1
    assert labels.get("other") == 3
    assert not any(k.startswith("x-attacker") or "code" in k for k in labels)


def test_bounded_folds_unknown_names():
    from helpline.ingest.http.report_metrics import bounded

    assert bounded({"a": 1, "b": 2, "c": 3, "unclassified": 4}, frozenset({"a", "unclassified"})) == {
        "a": 1,
        "other": 5,
        "unclassified": 4,
    }
