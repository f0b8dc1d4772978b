"""The database host's services, each its own server bound to that host's address: PostgreSQL, Redis, RabbitMQ.

Nothing here uses the machine's own PostgreSQL, Redis or RabbitMQ: the cluster
must prove that Helpline works against servers on another host, so each is a
fresh instance in the database host's namespace, with its data in the run's
work directory, removed afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.cluster.net import Cluster, Host, sh

PG_BIN = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]) if glob.glob("/usr/lib/postgresql/*/bin") else None
RABBIT_USER, RABBIT_PASSWORD, RABBIT_VHOST = "helpline", "cluster-secret", "helpline"


def _wait(check, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def postgres(cluster: Cluster, host: Host, workdir: Path) -> str:
    """A PostgreSQL cluster of its own listening on the host's address; returns the database URL."""
    assert PG_BIN, "PostgreSQL's server binaries are missing (Debian's postgresql package)"
    data = workdir / "pg"
    data.mkdir(parents=True)
    shutil.chown(data, "postgres", "postgres")
    sh(
        "runuser",
        "-u",
        "postgres",
        "--",
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
        timeout=120,
    )
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"listen_addresses = '{host.address}'\nport = 5432\nunix_socket_directories = '{data}'\n"
            "max_connections = 300\nshared_buffers = 64MB\n"
        )
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {cluster.subnet}.0/24 trust\n")
    cluster.spawn(host, [str(PG_BIN / "postgres"), "-D", str(data)], user="postgres", log=str(workdir / "pg.log"))
    _wait(
        lambda: host.run(str(PG_BIN / "pg_isready"), "-h", host.address, "-q", check=False).returncode == 0,
        60,
        "PostgreSQL",
    )
    host.run("runuser", "-u", "postgres", "--", str(PG_BIN / "createdb"), "-h", host.address, "helpline")
    return f"postgresql://postgres@{host.address}:5432/helpline"


def redis(cluster: Cluster, host: Host, workdir: Path) -> str:
    d = workdir / "redis"
    d.mkdir()
    cluster.spawn(
        host,
        [
            "redis-server",
            "--bind",
            host.address,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(d),
            "--protected-mode",
            "no",
        ],
        log=str(workdir / "redis.log"),
    )
    _wait(lambda: host.run("redis-cli", "-h", host.address, "ping", check=False).stdout.strip() == "PONG", 30, "Redis")
    return f"redis://{host.address}:6379/0"


def rabbitmq(cluster: Cluster, host: Host, workdir: Path) -> str:
    """A RabbitMQ node of its own (Debian's wrapper runs it as the rabbitmq user), with a user and vhost for
    Helpline; returns the amqp URL."""
    d = workdir / "rabbitmq"
    for sub in ("mnesia", "log"):
        (d / sub).mkdir(parents=True)
    (d / "rabbitmq.conf").write_text(f"listeners.tcp.default = {host.address}:5672\n")
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(d)], check=True)
    node = f"{cluster.prefix}@localhost"
    env = dict(
        os.environ,
        RABBITMQ_NODENAME=node,
        RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
        RABBITMQ_LOG_BASE=str(d / "log"),
        RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
        RABBITMQ_PID_FILE=str(d / "pid"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
    )
    (d / "enabled_plugins").write_text("[].\n")
    subprocess.run(["chown", "rabbitmq:rabbitmq", str(d / "enabled_plugins")], check=True)
    cluster.spawn(host, ["rabbitmq-server"], env=env, log=str(workdir / "rabbitmq.log"))
    ctl = ["rabbitmqctl", "-q", "-n", node]
    # The node registers with epmd only a few seconds into its boot; await_startup needs it registered.
    _wait(lambda: host.run(*ctl, "ping", check=False, timeout=30).returncode == 0, 120, "RabbitMQ's node")
    host.run(*ctl, "await_startup", "--timeout", "120", timeout=150)
    host.run(*ctl, "add_user", RABBIT_USER, RABBIT_PASSWORD)
    host.run(*ctl, "add_vhost", RABBIT_VHOST)
    host.run(*ctl, "set_permissions", "-p", RABBIT_VHOST, RABBIT_USER, ".*", ".*", ".*")
    return f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{host.address}:5672/{RABBIT_VHOST}"


def stop_rabbitmq(cluster: Cluster, host: Host) -> None:
    host.run("rabbitmqctl", "-q", "-n", f"{cluster.prefix}@localhost", "stop", check=False, timeout=60)
