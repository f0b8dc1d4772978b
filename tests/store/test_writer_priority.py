"""Intake goes first: a durable writer waiting for SQLite's writer lock makes a pipeline batch commit early."""

from __future__ import annotations

import threading
import time

from helpline.store import db, fastsql
from helpline.store import models as m
from helpline.store.db import priority_writer_waiting, write_tx


def test_a_waiting_durable_writer_is_seen_by_the_lock_holder(backend):
    if not db.is_sqlite():
        assert priority_writer_waiting() is False  # PostgreSQL has row locks, no desk-wide writer lock
        return
    started, done = threading.Event(), threading.Event()

    def intake() -> None:
        started.set()
        with write_tx(durable=True):  # what accepting a message does
            fastsql.execute('INSERT INTO "counter" (name, value) VALUES (?, ?)', ["intake-test", 1])
        done.set()

    with write_tx(durable=False):  # a pipeline batch holds the writer lock
        assert priority_writer_waiting() is False
        t = threading.Thread(target=intake)
        t.start()
        started.wait(5)
        deadline = time.monotonic() + 5
        while not priority_writer_waiting():
            assert time.monotonic() < deadline, "the waiting intake was never seen"
            time.sleep(0.01)
        assert not done.is_set()  # it waits for us: we commit early and let it in
    t.join(5)
    assert done.is_set() and priority_writer_waiting() is False


def test_a_pipeline_batch_commits_early_for_intake_and_finishes_after(backend):
    """process_batch's rows all end processed, in more than one transaction when intake cut in."""
    from helpline.workers import pipeline

    from ..workers.builders import Desk, mail

    desk = Desk(backend)
    ids = [
        desk.intake.accept(
            mail(sender=f"c{i}@example.org", subject=f"s{i}", body=f"b{i}")[0],
            f"c{i}@example.org",
            ["support@example.com"],
        ).inbound_id
        for i in range(6)
    ]
    pipeline.begin_attempts(ids)
    commits: list[int] = []
    if db.is_sqlite():
        real = db.database().commit

        def counting_commit():  # noqa: ANN202
            commits.append(1)
            return real()

        db.database().commit = counting_commit
        holder = threading.Event()
        release = threading.Event()

        def intake_waits() -> None:  # a durable writer waiting for the lock during the whole batch
            with db._priority_turn(db.database()):  # noqa: SLF001
                holder.set()
                release.wait(10)

        t = threading.Thread(target=intake_waits)
        t.start()
        holder.wait(5)
    try:
        results = pipeline.process_batch(ids, backend)
    finally:
        if db.is_sqlite():
            release.set()
            t.join(5)
            del db.database().commit
    assert all(isinstance(r, pipeline.Outcome) and r.action == "created" for r in results)
    assert m.Inbound.select().where(m.Inbound.id.in_(ids), m.Inbound.status == "processed").count() == 6
    if db.is_sqlite():
        assert len(commits) == 6  # one row per transaction while intake was waiting
