"""A live worker claiming a conversation's thread key first must not fail an imported message."""

from __future__ import annotations

import peewee as pw

from helpline.ingest.importer import run
from helpline.store import models as m
from helpline.workers import pipeline

from . import make_mbox


def test_a_thread_race_is_run_again_not_failed(backend, tmp_path, monkeypatch):
    box = tmp_path / "history.mbox"
    made = make_mbox.generate(str(box), 30, seed=2, duplicates=0, broken=0)
    real = pipeline._process_buffered
    calls = {"n": 0}

    def raced_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 3:  # what the unique thread-key index raises when a live worker got there first
            raise pw.IntegrityError("UNIQUE constraint failed: thread_key.key")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_process_buffered", raced_once)
    report = run.run_import("mbox", str(box), backend, jobs=1)
    assert not report.unreadable and "failed" not in report.actions
    assert m.Message.select().count() == made["new"] + made["reply"]
    assert m.Inbound.select().where(m.Inbound.status == "failed").count() == 0
