"""Attempts of a batch of inbound rows (``pipeline.begin_attempts``), without a broker."""

from __future__ import annotations

from helpline.store import models as m
from helpline.workers import pipeline

from .builders import mail


def test_first_tries_run_now_retried_rows_run_alone_done_rows_are_left_out(desk):
    ids = [desk.deliver(mail(sender=f"c{i}@example.org")[0]) for i in range(4)]
    assert pipeline.begin_attempts(ids) == (ids, [])
    assert [m.Inbound.get_by_id(i).attempts for i in ids] == [1, 1, 1, 1]
    pipeline.process(ids[0], desk.settings)  # done
    # the same batch again (its worker died): nothing is counted, the rest runs alone
    assert pipeline.begin_attempts(ids) == ([], ids[1:])
    assert [m.Inbound.get_by_id(i).attempts for i in ids] == [1, 1, 1, 1]
    assert pipeline.begin_attempts([999_999]) == ([], [])
