"""The scheduler's opt-in retrain: off by default, due by the last gate event, a niced one-thread
subprocess under a lease, and not due again once it has decided."""

from __future__ import annotations

import os

from helpline.store import db
from helpline.store.channels import imap_state
from helpline.store import models as m
from helpline.workers import scheduler
from helpline.workers.jobs import model_retrain_job

from ..router.test_model_gate import desk_tickets, fill
from ..support.stack import settings_env


def test_retrain_is_opt_in(backend, monkeypatch):
    from helpline.workers import broker

    broker.setup(backend)
    monkeypatch.setitem(model_retrain_job._state, "tried", -1e18)
    assert "model_retrain" not in scheduler.tick(backend)
    assert not model_retrain_job.due(backend)
    # opted in: the tick starts a run (its subprocess replaced here) and does not start another within RETRY_S
    s = backend.replace(model_retrain_interval_s=86400.0)
    monkeypatch.setattr(
        model_retrain_job,
        "run_retrain",
        lambda settings, holder: imap_state.release_lease(model_retrain_job.LEASE, holder),
    )
    assert scheduler.tick(s)["model_retrain"] == {"started": True}
    model_retrain_job._state["thread"].join()
    assert scheduler.tick(s)["model_retrain"] is None


def test_a_due_retrain_runs_niced_under_the_lease_once(backend, tmp_path, monkeypatch):
    s = backend.replace(model_retrain_interval_s=7 * 86400.0, data_dir=str(tmp_path / "data"))
    db.init(s.effective_database_url)
    fill(desk_tickets(60, seed=7))
    monkeypatch.setattr(os, "environ", {**settings_env(s)})
    monkeypatch.setitem(model_retrain_job._state, "tried", -1e18)
    assert model_retrain_job.due(s)
    assert model_retrain_job.due_job(s) == {"started": True}
    thread = model_retrain_job._state["thread"]
    assert imap_state.lease_holder(model_retrain_job.LEASE)  # held while the subprocess trains
    assert model_retrain_job.due_job(s) == {"running": True}
    thread.join(timeout=600)
    assert not thread.is_alive()
    assert not imap_state.lease_holder(model_retrain_job.LEASE)
    (gate,) = [e.data for e in m.Event.select().where(m.Event.kind == "category_model_gate")]
    assert gate["activate"] and gate["process"] == {"nice": os.nice(0) + model_retrain_job.NICE, "omp_threads": "1"}
    model_retrain_job._state["tried"] = -1e18
    assert not model_retrain_job.due(s) and model_retrain_job.due_job(s) is None
