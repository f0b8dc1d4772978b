"""The scheduler's tick runs the ticket jobs beside the sweeps: the configuration file is
synced when it changes, and a job's failure is reported, not raised (both databases)."""

from __future__ import annotations

import os

from helpline.store.tickets import routing_state
from helpline.workers import broker, scheduler

from .conftest import DESK_TOML, write_config

JOBS = {"config_synced", "agent_loads_reconciled", "sla_fired", "lifecycle_timers", "queue_offered"}


def test_tick_syncs_the_file_and_runs_the_ticket_jobs(backend, tmp_path):
    path = write_config(tmp_path, DESK_TOML)
    s = backend.replace(config_file=path)
    broker.setup(s)
    done = scheduler.tick(s)
    assert JOBS <= set(done)
    assert not [name for name in JOBS if isinstance(done[name], Exception)], done
    assert done["config_synced"]["teams_added"] == ["billing", "tech", "experts"]
    assert [t["name"] for t in routing_state.list_teams()] == ["billing", "tech", "experts"]
    assert scheduler.tick(s)["config_synced"] is None  # unchanged file: nothing to do

    with open(path, "a") as fh:
        fh.write('\n[[agents]]\nemail = "new@example.com"\nteams = ["tech"]\n')
    os.utime(path, ns=(1, 2 * 10**18))
    assert scheduler.tick(s)["config_synced"] == {"agents_added": ["new@example.com"]}
    assert routing_state.agent("new@example.com").availability == "available"

    # A file broken while running: the last good version stays in use, and the tick goes on.
    with open(path, "a") as fh:
        fh.write("\n[[agents]]\nemail = 42\n")
    os.utime(path, ns=(1, 3 * 10**18))
    done = scheduler.tick(s)
    assert done["config_synced"] is None and not isinstance(done["sla_fired"], Exception)
