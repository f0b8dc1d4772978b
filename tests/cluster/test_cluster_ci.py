"""The multi-host cluster in CI: steady load over two ingest hosts on one broker, and the migration race.

The other scenarios (an ingest host killed, the worker host partitioned, a slow
and lossy database link, each on both brokers) run with
``python -m tests.cluster --all``; their figures are in the scale-out notes.
Needs root: the hosts are network namespaces.
"""

from __future__ import annotations

from tests.cluster import scenarios


def test_steady_load_over_two_ingest_hosts_loses_and_doubles_nothing():
    result = scenarios.steady("redis", conversations=60, rate=30.0)
    assert result["accepted"] == 120, result
    assert result["lost"] == 0 and result["doubled"] == 0 and result["split_conversations"] == 0, result
    assert result["per_host"]["ingest1"] > 0 and result["per_host"]["ingest2"] > 0, result
    assert result["ok"], result


def test_two_hosts_upgrading_an_empty_database_at_once_migrate_it_once():
    result = scenarios.migration_race("redis")
    assert result["ok"], result
    assert len(result["migrated_by"]) == 1, result
    other = {"ingest1", "ingest2"} - set(result["migrated_by"])
    assert "up to date" in result["outputs"][other.pop()][1], result
