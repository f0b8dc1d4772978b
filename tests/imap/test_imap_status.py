"""``helpline imap status`` and the IMAP gauges on /metrics, on both databases, with pollers on the real
Dovecot: what an operator and a monitoring check see of each mailbox."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

import peewee as pw
from prometheus_client import CollectorRegistry, generate_latest

from helpline.ingest.http.admin import LiveCollector
from helpline.ingest.channels.imap_accounts import parse_account
from helpline.ingest.channels.imap_accounts import live_times
from helpline.ingest.cli.imap_commands import mailbox_status
from helpline.store import db
from helpline.store.channels import imap_state
from helpline.store.db import write_tx
from helpline.store.migrations import v013_imap_status

from ..support.stack import settings_env
from .conftest import message, wait_until
from .dovecot import free_port


def helpline(settings, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_of_a_working_and_a_failing_mailbox(desk, mailbox):
    good = mailbox.account()
    down = parse_account(f"imap://nobody:pw@127.0.0.1:{free_port()}/INBOX", lease_seconds=5)  # nothing listens
    poller = desk.start(good)
    failing = desk.start(down)
    for n in range(3):
        mailbox.append(message(n))
    wait_until(lambda: desk.count() == 3, what="three rows")
    wait_until(lambda: failing.stats["errors"] >= 1, what="the failing mailbox's error")
    wait_until(lambda: mailbox_status([good])[0]["last_uid"] == 3, what="progress saved")
    settings = desk.settings.replace(imap_accounts=f"{mailbox.url()},{down.masked_url().replace('****', 'pw')}")

    out = helpline(settings, "imap", "status", "--json")
    assert out.returncode == 1, out.stderr  # one mailbox is failing: a monitoring check says so
    rows = {r["mailbox"]: r for r in json.loads(out.stdout)}
    ok, bad = rows[good.key], rows[down.key]
    assert ok["state"] == "ok" and ok["imported_last_hour"] == 3 and ok["last_uid"] == 3
    assert ok["uidvalidity"] > 0 and ok["lease_holder"] == poller.holder and ok["last_error"] is None
    assert ok["last_success_at"].endswith("Z") and ok["last_import_at"] and ok["lease_expires_at"]
    assert bad["state"] == "error" and bad["last_success_at"] is None and bad["last_error_at"]
    assert bad["last_error"].startswith(("ConnectionRefusedError", "OSError")), bad["last_error"]
    assert mailbox.password not in out.stdout

    text = helpline(settings.replace(imap_accounts=mailbox.url()), "imap", "status")
    assert text.returncode == 0, text.stderr
    assert f"{good.key}  OK" in text.stdout and "3 in the last hour" in text.stdout
    assert f"lease          {poller.holder} until" in text.stdout

    desk.stop(poller)  # a clean stop frees the lease
    assert mailbox_status([good])[0]["lease_holder"] is None


def test_an_error_counts_until_the_next_success(imap_db):
    box = parse_account("imaps://a:x@imap.example.com/INBOX")
    assert mailbox_status([box])[0]["state"] == "never"
    imap_state.record_error(box.key, "OSError: unreachable")
    assert mailbox_status([box])[0]["state"] == "error"
    imap_state.record_success(box.key)
    row = mailbox_status([box])[0]
    assert row["state"] == "ok" and row["last_error"] == "OSError: unreachable"  # kept, but older than the success


def test_imports_in_the_last_hour_are_counted_per_minute(imap_db):
    a, b = "a@h:993/INBOX", "b@h:993/INBOX"
    now = time.time()
    with write_tx():
        imap_state._count_imports(a, 4, now - 2 * 3600)  # too old
        imap_state._count_imports(a, 2, now - 1800)
        imap_state._count_imports(a, 3, now)
        imap_state._count_imports(a, 1, now)
    assert imap_state.imported_since([a, b], 3600, now) == {a: 6, b: 0}


def test_gauges_on_metrics(imap_db):
    box = parse_account("imaps://a:x@imap.example.com/INBOX")
    other = parse_account("imaps://a:x@imap.example.com/Sales")
    imap_state.record_success(box.key)
    imap_state.record_error(other.key, "ImapRefused: login refused")
    registry = CollectorRegistry()
    registry.register(LiveCollector(lambda: {}, lambda: {}, imap_times=lambda: live_times([box, other])))
    text = generate_latest(registry).decode()
    when = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(f'helpline_imap_last_success_timestamp_seconds{{mailbox="{box.key}"}}')
    ]
    assert when and abs(when[0] - time.time()) < 120
    assert f'helpline_imap_last_error_timestamp_seconds{{mailbox="{other.key}"}}' in text
    assert f'helpline_imap_last_success_timestamp_seconds{{mailbox="{other.key}"}}' not in text  # never succeeded


def test_migration_13_adds_the_columns_to_an_old_table(imap_db):
    class OldState(pw.Model):  # imap_folder_state as migration 2 made it
        account = pw.CharField(max_length=700, unique=True)
        uidvalidity = pw.BigIntegerField(null=True)
        last_uid = pw.BigIntegerField(default=0)
        resync_until = pw.BigIntegerField(default=0)
        last_import_at = pw.DateTimeField(null=True)
        attempt_key = pw.CharField(default="")
        attempt_count = pw.IntegerField(default=0)
        last_error = pw.TextField(default="")
        updated_at = pw.DateTimeField(default=dt.datetime.utcnow)

        class Meta:
            table_name = "imap_folder_state"

    database = db.database()
    with write_tx():
        database.drop_tables([imap_state.ImapFolderState])
        OldState.bind(database)
        database.create_tables([OldState])
        OldState.create(account="a@h:993/INBOX", uidvalidity=7, last_uid=42)
        v013_imap_status.upgrade(database)
        v013_imap_status.upgrade(database)  # twice: nothing to do the second time
    assert {"last_success_at", "last_error_at"} <= {c.name for c in database.get_columns("imap_folder_state")}
    imap_state.record_success("a@h:993/INBOX")
    assert imap_state.load_state("a@h:993/INBOX").last_uid == 42
    assert imap_state.status_rows(["a@h:993/INBOX"])["a@h:993/INBOX"]["last_success_at"] is not None
