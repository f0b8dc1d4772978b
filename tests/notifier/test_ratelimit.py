"""The sliding-hour counters behind the automatic-reply limits, on both databases."""

from __future__ import annotations

import datetime as dt

from helpline.notifier import ratelimit
from helpline.store.db import run_tx

T0 = dt.datetime(2026, 11, 26, 10, 0, 0)


def test_counts_per_address_ignore_case_and_plus_tags(backend):
    for addr in ("Alice@Example.org", "alice+x@example.org", "bob@example.org"):
        run_tx(lambda a=addr: ratelimit.record("ack", a, T0 + dt.timedelta(minutes=5)))
    assert ratelimit.recent("ack", "alice@example.org", T0 + dt.timedelta(minutes=10)) == (2, 3)
    assert ratelimit.recent("ack", "carol@example.org", T0 + dt.timedelta(minutes=10)) == (0, 3)


def test_previous_hour_fades_out(backend):
    for _ in range(4):
        run_tx(lambda: ratelimit.record("ack", "a@example.org", T0 + dt.timedelta(minutes=50)))
    # 15 minutes into the next hour, 3/4 of the previous hour is still inside the window.
    assert ratelimit.recent("ack", "a@example.org", T0 + dt.timedelta(hours=1, minutes=15)) == (3, 3)
    assert ratelimit.recent("ack", "a@example.org", T0 + dt.timedelta(hours=2, minutes=1)) == (0, 0)


def test_kinds_are_separate(backend):
    run_tx(lambda: ratelimit.record("ack", "a@example.org", T0))
    assert ratelimit.recent("csat", "a@example.org", T0) == (0, 0)
