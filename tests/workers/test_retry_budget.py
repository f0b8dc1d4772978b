"""One retry budget: Dramatiq's Retries middleware with HELPLINE_MAX_ATTEMPTS, the row's attempts as the guard."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import Retries

from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers import actors, broker, retry_budget
from tests.support.stack import wait_until


def test_no_actor_overrides_the_configured_retries(backend):
    b = broker.setup(backend.replace(max_attempts=4))
    retries = [mw for mw in b.middleware if isinstance(mw, Retries)]
    assert [mw.max_retries for mw in retries] == [3]  # first try + 3 retries = 4 attempts
    for actor in actors.ALL:
        assert "max_retries" not in actor.options, actor.actor_name


def test_the_last_try_is_the_first_counter_used_up(backend):
    s = backend.replace(max_attempts=3)
    assert not retry_budget.is_last_try(s, db_attempts=1, retries=0)
    assert not retry_budget.is_last_try(s, db_attempts=2, retries=1)
    assert retry_budget.is_last_try(s, db_attempts=3, retries=1)  # a worker died once: the row's count decides
    assert retry_budget.is_last_try(s, db_attempts=2, retries=2)  # Dramatiq's count decides
    assert retry_budget.dramatiq_max_retries(backend.replace(max_attempts=1)) == 0


def _dead_letters(b: dramatiq.Broker, queue: str) -> int:
    client = b.client
    return client.hlen(f"{b.namespace}:{queue}.XQ.msgs")


def test_a_message_that_always_raises_is_tried_max_attempts_times_then_dead_and_failed(backend):
    """Before: the actors' max_retries=20 overrode the setting and the last try swallowed its exception,
    so Dramatiq counted the message as a success. Now: max_attempts tries, the row failed, the message dead."""
    settings = backend.replace(max_attempts=3)
    b = broker.setup(settings)
    row_id = run_tx(
        lambda: fastsql.insert(
            "inbound",
            {
                "channel": "email",
                "external_id": "always-raises@example.org",
                "content_hash": "e" * 64,
                "status": "pending",
                "reason": "",
                "envelope": {"version": 1, "channel": "email", "attachments": [42]},  # unreadable by any release
                "raw_blob_key": "",
                "attempts": 0,
                "received_at": m.utcnow(),
                "updated_at": m.utcnow(),
                "source_host": "test",
            },
        )
    )
    worker = dramatiq.Worker(b, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        actors.submit(row_id)
        wait_until(lambda: _dead_letters(b, actors.INBOUND_QUEUE) == 1, 60, what="the message to be dead-lettered")
    finally:
        worker.stop()
    row = m.Inbound.get_by_id(row_id)
    assert row.status == m.InboundStatus.FAILED
    assert row.attempts == 3
    assert "AttributeError" in row.reason
