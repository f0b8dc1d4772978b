"""Fixtures that give each test real services: SQLite or PostgreSQL, and Redis or RabbitMQ.

A missing service fails the test (never skips): the suite's promise is that it
ran against the real thing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from typing import Iterator

import psycopg2
import pytest
import redis

from helpline.ingest.tools.relay_sink import RelaySink
from helpline.store import config, db, migrations
from helpline.workers.redis_embedded import EmbeddedRedis

PG_DSN = os.environ.get("HELPLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HELPLINE_TEST_REDIS", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory):
    server = EmbeddedRedis(str(tmp_path_factory.mktemp("redis") / "redis.sock")).start()
    yield server
    server.stop()


def _pg_admin():
    conn = psycopg2.connect(PG_DSN, connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = "helpline_t_" + uuid.uuid4().hex[:12]
    admin = _pg_admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_DSN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    db.proxy.obj and db.proxy.obj.close()
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


def make_settings(tmp_path, **over) -> config.Settings:
    base = dict(
        data_dir=str(tmp_path / "data"),
        support_addresses=("support@example.com",),
        secret_key=("test-secret-key",),
        sweep_interval_s=0.5,
        pending_after_s=2.0,
        sending_lease_s=2.0,
        outbox_retry_base_s=0.2,
        db_busy_timeout_ms=3000,
    )
    base.update(over)
    return config.Settings(**base)


RABBITMQ_URL = os.environ.get("HELPLINE_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A RabbitMQ vhost of one test's own (RabbitMQ's unit of isolation), deleted afterwards."""
    name = "helpline-test-" + uuid.uuid4().hex[:10]
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{RABBITMQ_URL}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


def _backend_settings(kind: str, request, tmp_path, embedded_redis) -> Iterator[config.Settings]:  # noqa: ANN001
    namespace = "helpline-test-" + uuid.uuid4().hex[:10]
    with contextlib.ExitStack() as cleanup:
        if kind == "sqlite":
            settings = make_settings(
                tmp_path,
                database_url=f"sqlite:///{tmp_path}/helpline.sqlite3",
                broker_url=embedded_redis.url + "?db=0",
                queue_name=namespace,
            )
            client = redis.Redis(unix_socket_path=embedded_redis.socket_path, db=0)
        else:
            pg_url = request.getfixturevalue("pg_database")
            broker_url = REDIS_URL if kind == "postgres" else cleanup.enter_context(rabbitmq_vhost())
            settings = make_settings(tmp_path, database_url=pg_url, broker_url=broker_url, queue_name=namespace)
            client = redis.Redis.from_url(REDIS_URL)
        db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
        migrations.upgrade()
        yield settings
        for key in client.scan_iter(match=namespace + "*"):
            client.delete(key)
        db.database().close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path, embedded_redis):
    """Settings for one backend pair, database migrated, a queue namespace of its own."""
    yield from _backend_settings(request.param, request, tmp_path, embedded_redis)


@pytest.fixture(params=["sqlite", "postgres", "postgres-rabbitmq"])
def backbone(request, tmp_path, embedded_redis):
    """``backend`` plus PostgreSQL with RabbitMQ as the broker: for the backbone's integration tests."""
    yield from _backend_settings(request.param, request, tmp_path, embedded_redis)


@pytest.fixture
def relay_sink():
    sink = RelaySink().start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver():
    """A webhook source's callback endpoint (tests/support/receiver.py)."""
    from .support.receiver import Receiver

    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def fake_twilio():
    """The local Twilio REST API stand-in (tests/support/fake_twilio.py)."""
    from .support.fake_twilio import FakeTwilio

    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory):
    """A real clamd with a local EICAR signature (tests/support/clamd_server.py), for the whole session."""
    from .support.clamd_server import ClamdServer

    server = ClamdServer(tmp_path_factory.mktemp("clamd")).start()
    yield server
    server.stop()
