"""The sweeper's claim (``sweeper.stale_inbound``): pending rows left alone for ``pending_after_s`` are
pushed again, oldest first, and touched so that the next sweep does not push them a second time."""

from __future__ import annotations

import datetime as dt

from helpline.store import models as m
from helpline.workers.jobs import sweeper

from .builders import Desk, mail

T0 = dt.datetime(2026, 3, 9, 12, 0, 0)


def _pending(desk: Desk, n: int) -> list[int]:
    return [desk.deliver(mail(subject=f"Lost parcel {i}")[0]) for i in range(n)]


def _age(ids: list[int], updated_at: dt.datetime) -> None:
    m.Inbound.update(updated_at=updated_at).where(m.Inbound.id.in_(ids)).execute()


def test_stale_pending_rows_are_claimed_once_oldest_first(desk: Desk) -> None:
    s = desk.settings  # pending_after_s = 2
    stale, fresh, done = _pending(desk, 3), _pending(desk, 1), _pending(desk, 1)
    _age(stale + done, T0 - dt.timedelta(seconds=10))
    _age(fresh, T0 - dt.timedelta(seconds=1))
    m.Inbound.update(status=m.InboundStatus.PROCESSED).where(m.Inbound.id.in_(done)).execute()

    assert sweeper.stale_inbound(s, now=T0, limit=2) == stale[:2]  # the limit, oldest id first
    touched = {r.id: r.updated_at for r in m.Inbound.select().where(m.Inbound.id.in_(stale))}
    assert touched[stale[0]] == touched[stale[1]] == T0 and touched[stale[2]] < T0
    assert sweeper.stale_inbound(s, now=T0) == [stale[2]]  # the claimed ones wait out their retry
    assert sweeper.stale_inbound(s, now=T0) == []
    # pending_after_s later, a row still pending (its worker lost it again) is pushed again
    assert sweeper.stale_inbound(s, now=T0 + dt.timedelta(seconds=3)) == [*stale, *fresh]


def test_sweep_submits_the_claimed_ids(desk: Desk) -> None:
    stale = _pending(desk, 2)
    _age(stale, m.utcnow() - dt.timedelta(seconds=60))
    got: list[int] = []
    assert sweeper.sweep_inbound(desk.settings, got.append) == 2
    assert got == stale
