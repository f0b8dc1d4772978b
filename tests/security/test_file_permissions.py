"""Run by hand under umask 022, nothing Helpline creates under its data directory may be
readable by other users: directories 0700, files 0600 (the database, its WAL, blobs, the
spool, the embedded Redis's append-only file)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from helpline.ingest.spool import Spool
from helpline.store.storage.blobs import FileBlobStore
from helpline.workers.redis_embedded import EmbeddedRedis


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_helpline_command_makes_a_private_data_directory(tmp_path, umask_022):
    data = tmp_path / "var" / "helpline"
    env = {**os.environ, "HELPLINE_DATA_DIR": str(data)}
    env.pop("HELPLINE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert mode(data) == 0o700
    db_files = [p for p in data.rglob("*") if p.is_file() and ".sqlite" in p.name]
    assert db_files, sorted(str(p) for p in data.rglob("*"))
    for p in db_files:
        assert mode(p) == 0o600, (p, oct(mode(p)))
    for p in data.rglob("*"):
        assert not mode(p) & 0o077, (p, oct(mode(p)))


def test_sqlite_wal_and_shm_are_private(tmp_path, umask_022):
    from helpline.store import db, migrations

    path = tmp_path / "data" / "helpline.sqlite3"
    db.init(f"sqlite:///{path}", 3000)
    try:
        migrations.upgrade()
        db.database().execute_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        db.database().execute_sql("INSERT INTO t VALUES (1)")
        names = {p.name: mode(p) for p in path.parent.iterdir()}
    finally:
        db.database().close()
    assert mode(path.parent) == 0o700
    assert names[path.name] == 0o600
    wal = {n: m for n, m in names.items() if n.endswith(("-wal", "-shm"))}
    assert wal, names
    assert all(m == 0o600 for m in wal.values()), names


def test_blobs_and_spool_are_private(tmp_path, umask_022):
    blobs = FileBlobStore(str(tmp_path / "blobs"))
    key = blobs.put(b"a customer's message")
    assert mode(tmp_path / "blobs") == 0o700
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files and all(mode(p) == 0o600 for p in files), [(p, oct(mode(p))) for p in files]
    assert key
    spool = Spool(str(tmp_path / "spool"))
    name = spool.put(b"raw", {"kind": "email"})
    assert mode(tmp_path / "spool") == 0o700 and mode(tmp_path / "spool" / name) == 0o600


def test_embedded_redis_files_are_private(tmp_path, umask_022):
    data = tmp_path / "redis"
    server = EmbeddedRedis(str(tmp_path / "r.sock"), str(data)).start()
    try:
        client = redis.Redis(unix_socket_path=server.socket_path)
        client.set("k", "v")
        time.sleep(1.2)  # appendfsync everysec
    finally:
        server.stop()
    assert mode(data) == 0o700
    found = [p for p in data.rglob("*") if p.is_file() and p.suffix != ".sock"]
    assert found
    for p in found:
        assert not mode(p) & 0o077, (p, oct(mode(p)))
