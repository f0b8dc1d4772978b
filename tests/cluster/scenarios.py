"""The multi-host scenarios: each builds the cluster, runs Helpline on it, does something to it, and counts.

Hosts: ``db`` (PostgreSQL and the broker, servers of their own), ``ingest1`` and
``ingest2`` (``helpline ingest`` and ``helpline scheduler`` each, with data
directories of their own), ``worker`` (``helpline worker --processes 2``) and
``client`` (customers sending mail to both ingest hosts). No host shares a data
directory with another; blobs live in the database (``HELPLINE_BLOB_BACKEND=db``).

Every scenario ends with the same count: each message answered 250 is a ticket
message exactly once, and no conversation became two tickets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psycopg2

from tests.cluster import services
from tests.cluster.net import Cluster, Host

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ["db", "ingest1", "ingest2", "worker", "client"]
SECRET = "cluster-test-secret-key-0123456789abcdef"


@dataclass
class Counted:
    accepted: int
    messages: int
    missing: list[str]
    doubled: list[str]
    split_conversations: list[int]
    refused_or_failed_attempts: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled or self.split_conversations)

    def figures(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "accepted": self.accepted,
            "ticket_messages": self.messages,
            "lost": len(self.missing),
            "doubled": len(self.doubled),
            "split_conversations": len(self.split_conversations),
            "failed_attempts_retried": self.refused_or_failed_attempts,
            "seconds": round(self.seconds, 1),
            **self.extra,
        }


class Run:
    """One cluster with Helpline on it; a context manager that removes everything it made."""

    def __init__(self, broker: str = "redis", workdir: str | None = None, prefix: str = "hlc") -> None:
        self.broker_kind = broker
        self.cluster = Cluster(prefix=prefix)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="helpline-cluster-"))
        os.chmod(self.workdir, 0o755)  # the postgres and rabbitmq users must reach their folders
        self.database_url = ""
        self.broker_url = ""
        self.log_dir = self.workdir / "logs"

    # ---- set-up ---------------------------------------------------------------------------------
    def __enter__(self) -> "Run":
        self.log_dir.mkdir(exist_ok=True)
        self.cluster.up(HOSTS)
        db = self.host("db")
        self.database_url = services.postgres(self.cluster, db, self.workdir)
        self.broker_url = (
            services.redis(self.cluster, db, self.workdir)
            if self.broker_kind == "redis"
            else services.rabbitmq(self.cluster, db, self.workdir)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.broker_kind == "rabbitmq" and "db" in self.cluster.hosts:
            services.stop_rabbitmq(self.cluster, self.host("db"))
        self.cluster.teardown()

    def host(self, name: str) -> Host:
        return self.cluster.hosts[name]

    def env(self, host: str, **over: str) -> dict[str, str]:
        data = self.workdir / "hosts" / host
        data.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env.update(
            {
                "HELPLINE_DATA_DIR": str(data),
                "HELPLINE_DATABASE_URL": self.database_url,
                "HELPLINE_BROKER_URL": self.broker_url,
                "HELPLINE_BLOB_BACKEND": "db",
                "HELPLINE_SECRET_KEY": SECRET,
                "HELPLINE_SUPPORT_ADDRESSES": "support@example.com",
                "HELPLINE_SMTP_LISTEN": f"{self.host(host).address}:2525",
                "HELPLINE_HTTP_LISTEN": "127.0.0.1:8080",
                "HELPLINE_ADMIN_LISTEN": f"{self.host(host).address}:8081",
                "HELPLINE_SWEEP_INTERVAL_S": "2",
                "HELPLINE_PENDING_AFTER_S": "10",
                "HELPLINE_SENDING_LEASE_S": "10",
                "HELPLINE_LANGUAGES": "en",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(over)
        return env

    def helpline(self, host: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        name = "-".join([host, *args[:1]])
        return self.cluster.spawn(
            self.host(host),
            [sys.executable, "-m", "helpline.ingest.cli", *args],
            env=env or self.env(host),
            log=str(self.log_dir / f"{name}.log"),
        )

    def helpline_sync(self, host: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.host(host).cmd(sys.executable, "-m", "helpline.ingest.cli", *args),
            env=self.env(host),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start_ingest_host(self, name: str) -> None:
        self.helpline(name, "ingest")
        self.helpline(name, "scheduler")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            probe = self.host("client").run(
                "python3",
                "-c",
                f"import socket; socket.create_connection(('{self.host(name).address}', 2525), 2)",
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{name}'s SMTP server did not come up; see {self.log_dir}")

    def start(self, worker_env: dict[str, str] | None = None) -> "Run":
        out = self.helpline_sync("ingest1", "db", "upgrade")
        assert out.returncode == 0, out.stderr
        self.start_ingest_host("ingest1")
        self.start_ingest_host("ingest2")
        self.helpline("worker", "worker", "--processes", "2", "--threads", "2", env=worker_env)
        return self

    # ---- load and counting ----------------------------------------------------------------------
    def send(
        self,
        conversations: int,
        replies: int = 1,
        rate: float = 40.0,
        hosts: tuple[str, ...] = ("ingest1", "ingest2"),
        out: str = "client.jsonl",
    ) -> subprocess.Popen:
        addrs = ",".join(self.host(h).address for h in hosts)
        return self.cluster.spawn(
            self.host("client"),
            [
                sys.executable,
                "-m",
                "tests.cluster.client",
                "--hosts",
                addrs,
                "--conversations",
                str(conversations),
                "--replies",
                str(replies),
                "--rate",
                str(rate),
                "--out",
                str(self.workdir / out),
            ],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            log=str(self.log_dir / "client.log"),
        )

    def answers(self, out: str = "client.jsonl") -> list[dict[str, Any]]:
        path = self.workdir / out
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with psycopg2.connect(self.database_url, connect_timeout=10) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall()
        conn.close()
        return rows

    def count(self, started: float, timeout: float = 300, out: str = "client.jsonl") -> Counted:
        """Wait until every accepted message is processed (or ``timeout``), then count."""
        # Helpline keeps Message-IDs without their angle brackets
        accepted = {r["message_id"].strip("<>"): r["conversation"] for r in self.answers(out) if r["code"] == 250}
        failed = sum(1 for r in self.answers(out) if r["code"] != 250)
        deadline = time.monotonic() + timeout
        rows: list[tuple] = []
        while True:
            rows = self.query("SELECT message_id, ticket_id FROM message WHERE direction = 'in'")
            pending = self.query("SELECT count(*) FROM inbound WHERE status = 'pending'")[0][0]
            seen = {mid for mid, _ in rows}
            if (not pending and all(m in seen for m in accepted)) or time.monotonic() > deadline:
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        by_id: dict[str, list[int]] = {}
        for mid, ticket in rows:
            by_id.setdefault(mid, []).append(ticket)
        missing = sorted(m for m in accepted if m not in by_id)
        doubled = sorted(m for m in accepted if len(by_id.get(m, [])) > 1)
        tickets_of: dict[int, set[int]] = {}
        for mid, conv in accepted.items():
            tickets_of.setdefault(conv, set()).update(by_id.get(mid, []))
        split = sorted(c for c, t in tickets_of.items() if len(t) > 1)
        return Counted(
            len(accepted),
            sum(len(v) for m, v in by_id.items() if m in accepted),
            missing,
            doubled,
            split,
            failed,
            elapsed,
        )

    def lease_holder(self) -> str:
        """Which host's scheduler holds the incident grouper's lease (holders are ``hostname:pid:…``)."""
        rows = self.query(
            "SELECT holder FROM imap_lease WHERE account = 'job:incident-grouper' AND expires_at > "
            "now() AT TIME ZONE 'utc'"
        )
        if not rows:
            return ""
        pid = int(rows[0][0].split(":")[1])
        return next((getattr(p, "host", "?") for p in self.cluster.procs if p.pid == pid), f"pid {pid}")


def _wait_answers(run: Run, n: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for r in run.answers() if r["code"] == 250) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {n} messages accepted in {timeout}s")
        time.sleep(0.5)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ---- the scenarios ------------------------------------------------------------------------------
def steady(broker: str, conversations: int = 150, rate: float = 40.0) -> dict[str, Any]:
    """Steady load over both ingest hosts."""
    with Run(broker) as run:
        run.start()
        started = time.monotonic()
        client = run.send(conversations, rate=rate)
        client.wait(timeout=1200)
        counted = run.count(started)
        acks = [r["ms"] for r in run.answers() if r["code"] == 250]
        counted.extra.update(
            smtp_ack_p50_ms=_percentile(acks, 0.5),
            smtp_ack_p99_ms=_percentile(acks, 0.99),
            per_host={
                h: sum(1 for r in run.answers() if r["code"] == 250 and r["host"] == a)
                for h, a in (("ingest1", run.host("ingest1").address), ("ingest2", run.host("ingest2").address))
            },
        )
        return {"scenario": "steady", "broker": broker, **counted.figures()}


def ingest_host_killed(broker: str, conversations: int = 150, rate: float = 30.0) -> dict[str, Any]:
    """One ingest host killed (every process, SIGKILL) and its link cut mid-load, then brought back."""
    with Run(broker) as run:
        run.helpline_sync("ingest1", "db", "upgrade")
        run.start_ingest_host("ingest1")  # first, so that ingest1's scheduler takes the grouper's lease
        deadline = time.monotonic() + 60
        while run.lease_holder() != "ingest1" and time.monotonic() < deadline:
            time.sleep(0.5)
        run.start_ingest_host("ingest2")
        run.helpline("worker", "worker", "--processes", "2", "--threads", "2")
        holder_before = run.lease_holder()
        started = time.monotonic()
        client = run.send(conversations, rate=rate)
        _wait_answers(run, conversations // 2)
        run.cluster.kill_host("ingest1")
        run.cluster.link("ingest1", up=False)
        time.sleep(20)
        holder_during = run.lease_holder()
        run.cluster.link("ingest1", up=True)
        run.start_ingest_host("ingest1")
        client.wait(timeout=1200)
        counted = run.count(started)
        counted.extra.update(lease_holder_before=holder_before, lease_holder_while_ingest1_down=holder_during)
        result = {"scenario": "ingest_host_killed", "broker": broker, **counted.figures()}
        result["ok"] = result["ok"] and holder_during == "ingest2"
        return result


def worker_partitioned(
    broker: str, conversations: int = 120, rate: float = 30.0, seconds: float = 20
) -> dict[str, Any]:
    """The worker host cut off from the database for 20 s (iptables DROP, no clean stop) mid-batch."""
    with Run(broker) as run:
        run.start()
        started = time.monotonic()
        client = run.send(conversations, rate=rate)
        _wait_answers(run, conversations // 3)
        run.cluster.partition("worker", "db", on=True)
        time.sleep(seconds)
        run.cluster.partition("worker", "db", on=False)
        client.wait(timeout=1200)
        counted = run.count(started, timeout=420)
        return {"scenario": "worker_partitioned", "broker": broker, "partition_s": seconds, **counted.figures()}


def slow_lossy_database(broker: str, conversations: int = 20, rate: float = 0.5) -> dict[str, Any]:
    """100 ms added and 1 % of connections dropped between the worker host and the database."""
    from tests.cluster.proxy import start_proxy_on

    with Run(broker) as run:
        db = run.host("db")
        proxy = start_proxy_on(
            run, "worker", listen_port=15432, target=(db.address, 5432), delay_s=0.1, drop_ratio=0.01
        )
        worker_env = run.env(
            "worker", HELPLINE_DATABASE_URL=run.database_url.replace(f"{db.address}:5432", "127.0.0.1:15432")
        )
        run.start(worker_env=worker_env)
        started = time.monotonic()
        client = run.send(conversations, rate=rate)
        client.wait(timeout=1200)
        counted = run.count(started, timeout=600)
        rows = run.query(
            "SELECT EXTRACT(EPOCH FROM (processed_at - received_at)) FROM inbound WHERE processed_at IS NOT NULL"
        )
        e2e = [float(r[0]) * 1000 for r in rows if r[0] is not None]
        counted.extra.update(
            end_to_end_p50_ms=round(_percentile(e2e, 0.5)),
            end_to_end_p99_ms=round(_percentile(e2e, 0.99)),
            throughput_per_s=round(counted.messages / max(counted.seconds, 0.001), 1),
            proxy=proxy.stats(),
        )
        return {"scenario": "slow_lossy_database", "broker": broker, **counted.figures()}


# The release the rolling upgrade starts from: the first round's last landed commit.
OLD_RELEASE_COMMIT = os.environ.get("HELPLINE_CLUSTER_OLD_COMMIT", "6cba248")


def old_release(commit: str = OLD_RELEASE_COMMIT) -> Path:
    """A checkout of an earlier release with a virtual environment of its own (made once, then reused)."""
    where = Path(os.environ.get("HELPLINE_CLUSTER_OLD_RELEASE", f"/tmp/helpline-release-{commit}"))
    python = where / ".venv" / "bin" / "python"
    if python.exists():
        return where
    if not where.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit], check=True, capture_output=True
        )
    subprocess.run([sys.executable, "-m", "venv", str(where / ".venv")], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(where)], check=True, capture_output=True, timeout=900
    )
    return where


def rolling_upgrade(broker: str, conversations: int = 120, rate: float = 30.0) -> dict[str, Any]:
    """Workers of two releases on one queue: the earlier release's beside this branch's, both taking work,
    while this branch's ingest hosts (and schema) take the mail. On Redis only: the earlier release has no
    RabbitMQ broker."""
    old = old_release()
    with Run(broker) as run:
        run.start()  # this branch: schema, both ingest hosts, one worker instance
        old_env = run.env("worker", HELPLINE_DATA_DIR=str(run.workdir / "hosts" / "worker-old"), PYTHONPATH=str(old))
        run.cluster.spawn(
            run.host("worker"),
            [
                str(old / ".venv" / "bin" / "python"),
                "-m",
                "helpline.ingest.cli",
                "worker",
                "--processes",
                "1",
                "--threads",
                "2",
            ],
            env=old_env,
            log=str(run.log_dir / "worker-old.log"),
        )
        ready = "Worker process is ready for action"
        deadline = time.monotonic() + 180  # both releases take work only once both have booted
        while time.monotonic() < deadline:
            logs = {n: (run.log_dir / f"{n}.log").read_text(errors="replace") for n in ("worker-worker", "worker-old")}
            if logs["worker-worker"].count(ready) >= 2 and logs["worker-old"].count(ready) >= 1:
                break
            time.sleep(0.5)
        started = time.monotonic()
        client = run.send(conversations, rate=rate)
        client.wait(timeout=1200)
        counted = run.count(started)
        processed = {
            name: (run.log_dir / f"{name}.log").read_text(errors="replace").count("event=inbound_processed")
            for name in ("worker-worker", "worker-old")
        }
        counted.extra.update(
            processed_by_release={
                "this branch": processed["worker-worker"],
                f"release {OLD_RELEASE_COMMIT}": processed["worker-old"],
            }
        )
        result = {"scenario": "rolling_upgrade", "broker": broker, **counted.figures()}
        result["ok"] = result["ok"] and all(processed.values())
        return result


def migration_race(broker: str = "redis") -> dict[str, Any]:
    """Two hosts run `helpline db upgrade` at the same moment on an empty database."""
    with Run(broker) as run:
        barrier = threading.Barrier(2)
        results: dict[str, subprocess.CompletedProcess[str]] = {}

        def upgrade(host: str) -> None:
            barrier.wait()
            results[host] = run.helpline_sync(host, "db", "upgrade")

        threads = [threading.Thread(target=upgrade, args=(h,)) for h in ("ingest1", "ingest2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outs = {h: (r.returncode, r.stdout.strip(), r.stderr.strip()[-300:]) for h, r in results.items()}
        applied = [h for h, r in results.items() if "(applied" in r.stdout]
        versions = run.query("SELECT version, count(*) FROM schema_version GROUP BY version HAVING count(*) > 1")
        return {
            "scenario": "migration_race",
            "ok": all(r.returncode == 0 for r in results.values()) and len(applied) == 1 and not versions,
            "migrated_by": applied,
            "outputs": outs,
        }


ALL: dict[str, Callable[..., dict[str, Any]]] = {
    "steady": steady,
    "ingest_host_killed": ingest_host_killed,
    "worker_partitioned": worker_partitioned,
    "slow_lossy_database": slow_lossy_database,
    "rolling_upgrade": rolling_upgrade,
    "migration_race": migration_race,
}
