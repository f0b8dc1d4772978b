"""Migrations: idempotent, and a migration merged after a higher-numbered one still runs."""

from __future__ import annotations

import threading

import pytest

from helpline.store import db, migrations
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


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_concurrent_upgrades_apply_each_migration_once(engine, tmp_path, request):
    """Three hosts starting together on an empty database: the lock makes one apply everything, the others nothing."""
    url = f"sqlite:///{tmp_path}/new.sqlite3" if engine == "sqlite" else request.getfixturevalue("pg_database")
    db.init(url)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def host() -> None:
        start.wait()
        try:
            results.append(migrations.upgrade())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            db.database().close()

    threads = [threading.Thread(target=host) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(map(len, results)) == [0, 0, len(migrations.MIGRATIONS)]
    rows = [v for (v,) in m.SchemaVersion.select(m.SchemaVersion.version).tuples()]
    assert sorted(rows) == [mig.version for mig in migrations.MIGRATIONS]
    db.database().close()
