"""Migrations: idempotent, and a migration merged after a higher-numbered one still runs."""
from __future__ import annotations

from helpline.store import migrations
from helpline.store import models as m


def test_upgrade_is_idempotent(backend):
    assert migrations.upgrade() == []
    assert migrations.current_version() == migrations.LATEST


def test_a_missing_lower_version_is_applied_after_a_higher_one(backend, monkeypatch):
    ran: list[str] = []
    late = (migrations.LATEST + 2, "landed first", lambda db: ran.append("high"))
    early = (migrations.LATEST + 1, "landed second", lambda db: ran.append("low"))
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [late])
    assert migrations.upgrade() == [late[0]]
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1] + [early, late])
    assert migrations.upgrade() == [early[0]]
    assert ran == ["high", "low"]
    versions = sorted(v for (v,) in m.SchemaVersion.select(m.SchemaVersion.version).tuples())
    assert versions[-2:] == [early[0], late[0]]
