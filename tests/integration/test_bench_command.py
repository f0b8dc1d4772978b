"""`helpline bench` end to end on a small load: the command that prints the
pipeline's figures must itself work, count every message and lose none."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_prints_its_figures_and_loses_nothing():
    out = subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", "bench", "--messages", "60", "--concurrency", "4", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["messages"] == 60 and result["accepted"] == 60 and result["lost"] == 0
    assert result["ticket_messages"] == 60 and result["inbound_status"] == {"processed": 60}
    assert 0 < result["tickets_created"] <= 60 and result["acks_sent"] == result["tickets_created"]
    assert result["end_to_end_per_s"] > 0 and result["smtp_ack_ms"]["p99"] >= result["smtp_ack_ms"]["p50"] > 0
    assert {"ingest", "worker"} <= set(result["peak_rss_mb"]) and result["reference_loop_ms"] > 0
    assert set(result["cpu_ms_per_message"]) >= {"ingest", "worker", "bench_client", "relay_sink"}


def test_bench_mixed_channels_counts_each_and_loses_nothing():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpline.ingest.cli",
            "bench",
            "--messages",
            "45",
            "--concurrency",
            "3",
            "--channel",
            "mixed",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["channel"] == "mixed" and result["accepted"] == 45 and result["lost"] == 0
    assert {c: v["accepted"] for c, v in result["ack_ms_by_channel"].items()} == {"email": 15, "sms": 15, "webhook": 15}
    assert result["ticket_messages"] == 45 and result["inbound_status"] == {"processed": 45}
    assert result["acks_queued_by_channel"].get("sms", 0) > 0  # new texters are told their ticket number
