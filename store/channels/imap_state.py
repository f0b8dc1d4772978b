"""What the IMAP pollers keep in the database: who polls a mailbox, and how far it got.

``ImapLease`` lets exactly one ingest daemon poll a mailbox (account + folder)
at a time: a row per mailbox with a holder and an expiry, taken with a
conditional UPDATE (free, expired, or already ours), renewed while polling,
released on a clean stop. A crashed holder's lease simply runs out.

``ImapFolderState`` records, per mailbox, the UIDVALIDITY seen and the highest
UID whose message is durable in Helpline (and marked on the server), so a
restart neither re-imports nor skips; and an attempt marker (the first UID of
the batch being imported and how many times an import of it began without
finishing) so a message that kills the poller every time is quarantined
instead of blocking the mailbox.

Times are the writing host's naive UTC clock; hosts whose clocks disagree by
more than a lease's length may briefly both poll, which costs only duplicate
fetches (intake's dedupe makes a re-import a no-op).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import peewee as pw

from helpline.store import fastsql
from helpline.store.db import run_tx
from helpline.store.models import Base, utcnow


class ImapFolderState(Base):
    id = pw.AutoField()
    account = pw.CharField(max_length=700, unique=True)  # user@host:port/folder
    uidvalidity = pw.BigIntegerField(null=True)
    last_uid = pw.BigIntegerField(default=0)
    resync_until = pw.BigIntegerField(default=0)  # a re-sync covers UIDs up to here (candidates only)
    last_import_at = pw.DateTimeField(null=True)
    attempt_key = pw.CharField(default="")  # "UIDVALIDITY:UID" of the batch being imported
    attempt_count = pw.IntegerField(default=0)
    last_error = pw.TextField(default="")
    last_error_at = pw.DateTimeField(null=True)  # migration 13
    last_success_at = pw.DateTimeField(null=True)  # the last poll that finished (migration 13)
    updated_at = pw.DateTimeField(default=utcnow)


class ImapLease(Base):
    account = pw.CharField(max_length=700, primary_key=True)
    holder = pw.CharField(default="")
    expires_at = pw.DateTimeField()
    acquired_at = pw.DateTimeField(null=True)


MODELS: list[type[Base]] = [ImapFolderState, ImapLease]


# ---- lease -------------------------------------------------------------------
def acquire_lease(account: str, holder: str, ttl_s: float) -> bool:
    """Take or renew the lease on ``account`` for ``ttl_s`` seconds; False when another holder has it."""

    def tx() -> bool:
        now = utcnow()
        until = now + dt.timedelta(seconds=ttl_s)
        renewed = (
            ImapLease.update(expires_at=until)
            .where((ImapLease.account == account) & (ImapLease.holder == holder))
            .execute()
        )
        if renewed:
            return True
        ImapLease.insert(
            account=account, holder="", expires_at=now - dt.timedelta(days=1)
        ).on_conflict_ignore().execute()
        taken = (
            ImapLease.update(holder=holder, expires_at=until, acquired_at=now)
            .where((ImapLease.account == account) & (ImapLease.expires_at < now))
            .execute()
        )
        return bool(taken == 1)

    return run_tx(tx, retries=1)


def release_lease(account: str, holder: str) -> None:
    def tx() -> None:
        (
            ImapLease.update(holder="", expires_at=utcnow() - dt.timedelta(seconds=1))
            .where((ImapLease.account == account) & (ImapLease.holder == holder))
            .execute()
        )

    run_tx(tx, retries=0)


def lease_holder(account: str) -> str | None:
    """The current (unexpired) holder, for status pages and tests."""
    row = ImapLease.get_or_none(ImapLease.account == account)
    if row is None or not row.holder or row.expires_at < utcnow():
        return None
    return row.holder


# ---- progress ------------------------------------------------------------------
@dataclass
class FolderState:
    uidvalidity: int | None = None
    last_uid: int = 0
    last_import_at: dt.datetime | None = None
    resync_until: int = 0
    attempt_key: str = ""
    attempt_count: int = 0


def load_state(account: str) -> FolderState:
    row = ImapFolderState.get_or_none(ImapFolderState.account == account)
    if row is None:
        return FolderState()
    return FolderState(
        row.uidvalidity, row.last_uid, row.last_import_at, row.resync_until, row.attempt_key, row.attempt_count
    )


def _upsert(account: str, **values: object) -> None:
    values["updated_at"] = utcnow()
    n = ImapFolderState.update(**values).where(ImapFolderState.account == account).execute()
    if not n:
        ImapFolderState.insert(account=account, **values).on_conflict_ignore().execute()


def save_progress(
    account: str, uidvalidity: int, last_uid: int, imported: bool, resync_until: int | None = None, count: int = 0
) -> None:
    """Record that every message up to ``last_uid`` (under ``uidvalidity``) is done.

    Never moves backwards within one UIDVALIDITY; a new UIDVALIDITY starts over
    (with ``resync_until``, the re-sync's end). Clears the attempt marker.
    Not fsync'd: losing it to a power cut costs a re-import, which intake makes a no-op.
    ``count`` messages were imported by this step (for ``imported_last_hour``).
    """

    def tx() -> None:
        row = ImapFolderState.get_or_none(ImapFolderState.account == account)
        uid = last_uid
        if row is not None and row.uidvalidity == uidvalidity:
            uid = max(uid, row.last_uid)
        values: dict[str, object] = {"uidvalidity": uidvalidity, "last_uid": uid, "attempt_key": "", "attempt_count": 0}
        if resync_until is not None:
            values["resync_until"] = resync_until
        if imported:
            values["last_import_at"] = utcnow()
        _upsert(account, **values)
        if count > 0:
            _count_imports(account, count)

    run_tx(tx, retries=1, durable=False)


def note_attempt(account: str, key: str) -> int:
    """Count one more import attempt of the batch starting at ``key``; returns the count (1 = first)."""

    def tx() -> int:
        row = ImapFolderState.get_or_none(ImapFolderState.account == account)
        count = row.attempt_count + 1 if row is not None and row.attempt_key == key else 1
        _upsert(account, attempt_key=key, attempt_count=count)
        return count

    return run_tx(tx, retries=1, durable=False)


def clear_attempt(account: str, key: str) -> None:
    """The attempt ended in an ordinary, handled way (network, database): it does not count."""

    def tx() -> None:
        (
            ImapFolderState.update(attempt_key="", attempt_count=0, updated_at=utcnow())
            .where((ImapFolderState.account == account) & (ImapFolderState.attempt_key == key))
            .execute()
        )

    run_tx(tx, retries=0, durable=False)


def record_error(account: str, error: str) -> None:
    def tx() -> None:
        _upsert(account, last_error=error[:2000], last_error_at=utcnow())

    run_tx(tx, retries=0, durable=False)


def record_success(account: str) -> None:
    """A poll of the mailbox finished (connected, searched, imported what there was)."""

    def tx() -> None:
        _upsert(account, last_success_at=utcnow())

    run_tx(tx, retries=0, durable=False)


# ---- imports per hour, for the status command ------------------------------------------------
# Minute buckets in the shared rate_counter table (key "imap:" + mailbox): the last hour is at most 61
# rows per mailbox, and rows older than two hours are dropped as new minutes begin.
_BUCKET_S = 60


def _counter_key(account: str) -> str:
    return ("imap:" + account)[:400]


def _count_imports(account: str, count: int, now: float | None = None) -> None:
    now = time.time() if now is None else now
    key, bucket = _counter_key(account), int(now // _BUCKET_S)
    fresh = fastsql.execute(
        'UPDATE "rate_counter" SET count = count + ? WHERE key = ? AND bucket = ?', [count, key, bucket]
    ).rowcount
    if not fresh:
        fastsql.execute('DELETE FROM "rate_counter" WHERE key = ? AND bucket < ?', [key, bucket - 120])
        fastsql.execute(
            'INSERT INTO "rate_counter" (key, bucket, count) VALUES (?, ?, ?) '
            'ON CONFLICT (key, bucket) DO UPDATE SET count = "rate_counter".count + ?',
            [key, bucket, count, count],
        )


def imported_since(accounts: list[str], seconds: float, now: float | None = None) -> dict[str, int]:
    """Messages imported per mailbox in the last ``seconds`` (to the minute)."""
    now = time.time() if now is None else now
    if not accounts:
        return {}
    keys = {_counter_key(a): a for a in accounts}
    rows = fastsql.fetchall(
        f'SELECT key, SUM(count) FROM "rate_counter" WHERE key IN ({fastsql.in_marks(len(keys))}) '
        "AND bucket > ? GROUP BY key",
        [*keys, int((now - seconds) // _BUCKET_S)],
    )
    out = dict.fromkeys(accounts, 0)
    for key, n in rows:
        out[keys[key]] = int(n)
    return out


# ---- status ---------------------------------------------------------------------------------
def status_rows(accounts: list[str]) -> dict[str, dict[str, object]]:
    """Progress, last success and error, and lease of each mailbox (missing ones: never polled)."""
    if not accounts:
        return {}
    out: dict[str, dict[str, object]] = {}
    for row in ImapFolderState.select().where(ImapFolderState.account.in_(accounts)):
        out[row.account] = {
            "uidvalidity": row.uidvalidity,
            "last_uid": row.last_uid,
            "last_import_at": row.last_import_at,
            "last_success_at": row.last_success_at,
            "last_error": row.last_error,
            "last_error_at": row.last_error_at,
        }
    for lease in ImapLease.select().where(ImapLease.account.in_(accounts)):
        out.setdefault(lease.account, {}).update(
            {"lease_holder": lease.holder or None, "lease_expires_at": lease.expires_at if lease.holder else None}
        )
    return out
