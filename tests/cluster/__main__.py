"""``python -m tests.cluster [--all | --scenario NAME] [--broker redis|rabbitmq]``: the multi-host runs, with figures.

Needs root (network namespaces, iptables). Each scenario builds its own
cluster and removes it afterwards; the figures print as one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.cluster.scenarios import ALL


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m tests.cluster")
    p.add_argument("--all", action="store_true", help="every scenario on both brokers")
    p.add_argument("--scenario", choices=sorted(ALL), action="append")
    p.add_argument("--broker", choices=["redis", "rabbitmq"], action="append")
    a = p.parse_args()
    scenarios = sorted(ALL) if a.all or not a.scenario else a.scenario
    brokers = ["redis", "rabbitmq"] if a.all or not a.broker else a.broker
    failed = 0
    for name in scenarios:
        # The migration race does not involve the broker; the previous release spoke only Redis, so a rolling
        # upgrade from it is a Redis upgrade.
        runs = brokers[:1] if name == "migration_race" else ["redis"] if name == "rolling_upgrade" else brokers
        for broker in runs:
            started = time.monotonic()
            print(f"… {name} on {broker}", file=sys.stderr, flush=True)
            try:
                result = ALL[name](broker)
            except Exception as exc:  # one scenario's failure is reported, the others still run
                result = {"scenario": name, "broker": broker, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            result["wall_s"] = round(time.monotonic() - started, 1)
            failed += not result.get("ok")
            print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
