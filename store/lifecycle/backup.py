"""Backup and restore: one consistent snapshot of the database with exactly the blobs it names.

A backup is a tar archive sealed by ``backup_crypto`` (scrypt + AES-256-GCM
with ``HELPLINE_BACKUP_PASSPHRASE``; without one, a key derived from
``HELPLINE_SECRET_KEY`` and no keys inside). Its members:

- ``manifest.json``: format, time, engine, blob backend, schema version,
  the blob keys, whether the keys are inside, what was missing;
- ``db/helpline.sqlite3`` (SQLite's online backup API: a consistent copy while
  Helpline writes) or ``db/helpline.pgdump`` (``pg_dump --format=custom`` run on
  a snapshot exported by the transaction that read the blob keys, so the dump
  and the blob list are the same moment);
- ``blobs/<sha256>``: the filesystem blobs the snapshot references (the
  database backend's blobs are inside the dump);
- ``config/helpline.toml``: the configuration file, when one is set;
- ``keys/secret_key``: the signing keys, newest first, only with a passphrase.

Restore refuses a database or blob directory that is not empty, checks every
part before writing anything, holds the outbox rows that were pending or
being sent (``held``, until ``helpline outbox release``), and re-applies the
erasure ledger. Member names are never used as paths: each is matched
against the layout above, so a crafted archive cannot write elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

from helpline.store.config import Settings
from helpline.store.db import make_database
from helpline.store.tuple_rows import tuples
from helpline.store.lifecycle.backup_crypto import BackupError, SealedWriter, open_frames

FORMAT = "helpline-backup/1"
HELD = "held"
_BLOB = re.compile(r"^blobs/([0-9a-f]{64})$")
_FIXED = {"manifest.json", "db/helpline.sqlite3", "db/helpline.pgdump", "config/helpline.toml", "keys/secret_key"}
BLOB_REF_SQL = (
    'SELECT blob_key FROM "attachment" UNION SELECT raw_blob_key FROM "message" '
    'UNION SELECT raw_blob_key FROM "inbound" UNION SELECT blob_key FROM "sms_media"'
)


@dataclass
class BackupResult:
    path: str
    engine: str
    blobs: int
    keys_included: bool
    missing_blobs: list[str] = field(default_factory=list)
    size: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _engine(settings: Settings) -> str:
    return "sqlite" if urlsplit(settings.effective_database_url).scheme == "sqlite" else "postgresql"


def _sqlite_path(settings: Settings) -> str:
    return str(make_database(settings.effective_database_url).database)


def _pending_envelope_keys(rows: Iterable[tuple[Any]]) -> set[str]:
    keys: set[str] = set()
    for (env,) in rows:
        try:
            data = json.loads(env) if isinstance(env, str) else env
        except ValueError:
            continue
        for a in (data or {}).get("attachments") or []:
            if isinstance(a, dict) and a.get("blob_key"):
                keys.add(str(a["blob_key"]))
    return keys


def _keys_of(cursor: Any) -> set[str]:
    cursor.execute(BLOB_REF_SQL)
    keys = {r[0] for r in cursor.fetchall() if r[0]}
    cursor.execute("SELECT envelope FROM \"inbound\" WHERE status = 'pending'")
    return keys | _pending_envelope_keys(cursor.fetchall())


def _snapshot_sqlite(settings: Settings, work: Path) -> tuple[Path, set[str]]:
    """The online backup API copies every page as of one moment, without stopping writers for long."""
    target = work / "helpline.sqlite3"
    src = sqlite3.connect(_sqlite_path(settings), timeout=settings.db_busy_timeout_ms / 1000)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
    try:
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        keys = _keys_of(dst.cursor())
    finally:
        dst.close()
    return target, keys


def _one_row(row: tuple[Any, ...] | None, query: str) -> tuple[Any, ...]:
    """The row a query that always answers one row answered; a clear error if the server answered none."""
    if row is None:
        raise BackupError(f"PostgreSQL answered no row to {query!r}; is HELPLINE_DATABASE_URL a PostgreSQL server?")
    return row


def _snapshot_postgres(settings: Settings, work: Path) -> tuple[Path, set[str]]:
    """pg_dump on the snapshot of the transaction that read the blob keys: the same moment for both."""
    import psycopg2
    import psycopg2.extensions

    target = work / "helpline.pgdump"
    conn = psycopg2.connect(settings.effective_database_url)
    try:
        conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = _one_row(cur.fetchone(), "SELECT pg_export_snapshot()")[0]
            keys = _keys_of(cur)
            done = subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    settings.effective_database_url,
                ],
                capture_output=True,
                timeout=24 * 3600,
            )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.decode(errors='replace').strip()[:500]}")
    finally:
        conn.rollback()
        conn.close()
    return target, keys


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def create(
    settings: Settings, out_path: str, *, passphrase: str = "", schema_version: int = 0, now: dt.datetime | None = None
) -> BackupResult:
    """Write the backup to ``out_path`` (under a temporary name, renamed when complete)."""
    from helpline.store.storage.blobs import BlobNotFound, open_store

    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    engine = _engine(settings)
    target = Path(out_path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helpline-backup-", dir=target.parent) as tmp:
        work = Path(tmp)
        db_file, keys = (_snapshot_sqlite if engine == "sqlite" else _snapshot_postgres)(settings, work)
        result = BackupResult(str(target), engine, 0, bool(passphrase))
        store = open_store(settings.blob_backend, settings.effective_blob_dir)
        part = work / "backup.part"
        with open(part, "wb") as raw:
            sealed = SealedWriter(raw, passphrase, settings.secret_key, {"created_at": now.isoformat() + "Z"})
            with tarfile.open(fileobj=sealed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(db_file, arcname=f"db/{db_file.name}", filter=lambda i: _plain(i))
                if settings.blob_backend == "fs":
                    for key in sorted(keys):
                        try:
                            data = store.get(key)
                        except BlobNotFound:
                            result.missing_blobs.append(key)
                            continue
                        _add(tar, f"blobs/{key.partition(':')[2]}", data)
                        result.blobs += 1
                if settings.config_file and os.path.exists(settings.config_file):
                    _add(tar, "config/helpline.toml", Path(settings.config_file).read_bytes())
                if passphrase:
                    _add(tar, "keys/secret_key", "\n".join(settings.secret_key).encode())
                _add(
                    tar,
                    "manifest.json",
                    json.dumps(
                        {
                            "format": FORMAT,
                            "created_at": now.isoformat() + "Z",
                            "engine": engine,
                            "blob_backend": settings.blob_backend,
                            "schema_version": schema_version,
                            "blobs": result.blobs,
                            "missing_blobs": result.missing_blobs,
                            "keys_included": bool(passphrase),
                            "config_file": bool(settings.config_file),
                        },
                        indent=2,
                    ).encode(),
                )
            sealed.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(part, 0o600)
        os.replace(part, target)
    result.size = target.stat().st_size
    return result


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    return info


# ---- reading ---------------------------------------------------------------------------------
@dataclass
class Opened:
    """A backup checked end to end and unpacked into a private directory."""

    root: Path
    manifest: dict[str, Any]
    blobs: list[str]
    db_file: Path
    config: Path | None
    keys: list[str]


def open_backup(path: str, work: Path, *, passphrase: str, secret_keys: Sequence[str]) -> Opened:
    """Authenticate every part, then unpack the known members into ``work``; raises ``BackupError``."""
    plain = work / "payload.tar"
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    with fh, open(plain, "wb") as out:
        _, frames = open_frames(fh, passphrase, secret_keys)
        for chunk in frames:  # every chunk authenticated; a truncated file raises at its end
            out.write(chunk)
    try:
        tar = tarfile.open(plain, "r:")
    except tarfile.TarError:
        raise BackupError("the backup's contents are not an archive: damaged or not ours") from None
    blobs: list[str] = []
    seen: set[str] = set()
    with tar:
        for member in tar:
            name = member.name
            if not member.isreg():
                raise BackupError(f"the backup holds {name!r}, which is not a plain file: refused")
            blob = _BLOB.match(name)
            if name not in _FIXED and not blob:
                raise BackupError(f"the backup holds an unexpected member {name!r}: refused")
            if name in seen:
                raise BackupError(f"the backup holds {name!r} twice: refused")
            seen.add(name)
            src = tar.extractfile(member)
            assert src is not None
            dest = work / ("blob-" + blob.group(1) if blob else name.replace("/", "__"))
            with open(dest, "wb") as out:
                digest = hashlib.sha256()
                for chunk in iter(partial(src.read, 1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if blob:
                if digest.hexdigest() != blob.group(1):
                    raise BackupError(f"blob {blob.group(1)[:12]}… does not match its content address")
                blobs.append(blob.group(1))
    plain.unlink()
    if "manifest.json" not in seen:
        raise BackupError("the backup has no manifest")
    manifest = json.loads((work / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    db_name = "db__helpline.sqlite3" if manifest.get("engine") == "sqlite" else "db__helpline.pgdump"
    if not (work / db_name).exists():
        raise BackupError("the backup has no database")
    keys_file = work / "keys__secret_key"
    return Opened(
        work,
        manifest,
        blobs,
        work / db_name,
        work / "config__helpline.toml" if (work / "config__helpline.toml").exists() else None,
        keys_file.read_text().split() if keys_file.exists() else [],
    )


def verify(path: str, *, passphrase: str, secret_keys: Sequence[str]) -> dict[str, Any]:
    """Check a backup without restoring it: authenticity, blob addresses, the database file itself."""
    with tempfile.TemporaryDirectory(prefix="helpline-verify-") as tmp:
        got = open_backup(path, Path(tmp), passphrase=passphrase, secret_keys=secret_keys)
        if got.manifest["engine"] == "sqlite":
            conn = sqlite3.connect(got.db_file)
            try:
                check = conn.execute("PRAGMA integrity_check").fetchone()[0]
                tickets = conn.execute('SELECT COUNT(*) FROM "ticket"').fetchone()[0]
            finally:
                conn.close()
            if check != "ok":
                raise BackupError(f"the database inside the backup is damaged: {check}")
        else:
            done = subprocess.run(["pg_restore", "--list", str(got.db_file)], capture_output=True, timeout=600)
            if done.returncode != 0:
                raise BackupError("the PostgreSQL dump inside the backup cannot be read by pg_restore")
            tickets = None
        if got.manifest.get("blobs") != len(got.blobs):
            raise BackupError(
                f"the manifest lists {got.manifest.get('blobs')} blobs, the backup holds {len(got.blobs)}"
            )
        return {
            "ok": True,
            "engine": got.manifest["engine"],
            "created_at": got.manifest["created_at"],
            "blobs": len(got.blobs),
            "keys_included": bool(got.keys),
            "tickets": tickets,
            "schema_version": got.manifest.get("schema_version"),
        }


# ---- restoring ------------------------------------------------------------------------------
def _refuse_non_empty(settings: Settings) -> None:
    if _engine(settings) == "sqlite":
        path = _sqlite_path(settings)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            conn = sqlite3.connect(path)
            try:
                tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            finally:
                conn.close()
            if tables:
                raise BackupError(f"the database {path} is not empty; restore only into an empty data directory")
    else:
        import psycopg2

        pg = psycopg2.connect(settings.effective_database_url)
        try:
            with pg.cursor() as cur:
                count_tables = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"
                cur.execute(count_tables)
                if _one_row(cur.fetchone(), count_tables)[0]:
                    raise BackupError(
                        "the PostgreSQL database is not empty; restore only into an empty database "
                        "(createdb a new one and point HELPLINE_DATABASE_URL at it)"
                    )
        finally:
            pg.close()
    blob_dir = Path(settings.effective_blob_dir)
    if blob_dir.exists() and any(blob_dir.iterdir()):
        raise BackupError(f"the blob directory {blob_dir} is not empty; restore only into an empty data directory")


def restore_files(settings: Settings, path: str, *, passphrase: str) -> Opened:
    """Check the backup, then put its database and blobs in place (the caller re-opens the database)."""
    from helpline.store.storage.blobs import FileBlobStore

    _refuse_non_empty(settings)
    work = Path(tempfile.mkdtemp(prefix=".restore-", dir=_scratch_dir(settings)))
    try:
        got = open_backup(path, work, passphrase=passphrase, secret_keys=settings.secret_key)
        if got.manifest["engine"] != _engine(settings):
            raise BackupError(
                f"the backup is of a {got.manifest['engine']} database; HELPLINE_DATABASE_URL "
                f"points at {_engine(settings)}"
            )
        if got.manifest["engine"] == "sqlite":
            dest = Path(_sqlite_path(settings))
            dest.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(str(dest) + suffix).unlink(missing_ok=True)
            shutil.copyfile(got.db_file, dest)
            os.chmod(dest, 0o600)
        else:
            done = subprocess.run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    f"--dbname={settings.effective_database_url}",
                    str(got.db_file),
                ],
                capture_output=True,
                timeout=24 * 3600,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_restore failed: {done.stderr.decode(errors='replace').strip()[:500]}")
        store = FileBlobStore(settings.effective_blob_dir)
        for i in range(0, len(got.blobs), 256):  # made durable together: one fsync per file is most of the time
            with store.synced_together():
                for digest in got.blobs[i : i + 256]:
                    store.put((work / f"blob-{digest}").read_bytes())
        if got.keys:
            _write_keys(settings, got.keys)
        return got
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _scratch_dir(settings: Settings) -> str:
    os.makedirs(settings.data_dir, exist_ok=True)
    return settings.data_dir


def _write_keys(settings: Settings, keys: list[str]) -> None:
    """Where ``config.ensure_secret_key`` finds a key when HELPLINE_SECRET_KEY is unset."""
    from helpline.store.storage.files import write_atomic

    write_atomic(Path(settings.data_dir) / "secret_key", lambda fh: fh.write(keys[0].encode()), mode=0o600)
    if len(keys) > 1:
        write_atomic(
            Path(settings.data_dir) / "secret_key.all", lambda fh: fh.write(",".join(keys).encode()), mode=0o600
        )


def hold_outbox() -> int:
    """Rows that were pending or being sent when the backup was taken wait for an operator (the caller's
    transaction): some may have gone out after the backup, and sending them again would send twice."""
    from helpline.store import fastsql

    cur = fastsql.execute(
        'UPDATE "outbox" SET status = ?, last_error = ? WHERE status IN (?, ?)',
        [HELD, "held after restore: `helpline outbox release`", "pending", "sending"],
    )
    return int(cur.rowcount or 0)


def release_outbox(ids: Sequence[int] = ()) -> int:
    """``held`` rows back to ``pending`` (all, or the given ids); the caller's transaction."""
    from helpline.store import models as m

    q = m.Outbox.update(status=m.OutboxStatus.PENDING, last_error="", next_attempt_at=m.utcnow()).where(
        m.Outbox.status == HELD
    )
    if ids:
        q = q.where(m.Outbox.id.in_(list(ids)))
    released: int = q.execute()
    return released


def customers_to_erase(hashes: set[str]) -> list[int]:
    """Customers of the restored database with an identity the ledger says was erased."""
    from helpline.store import models as m
    from helpline.store.lifecycle import ledger

    salt = ledger.salt()
    out = {
        int(c)
        for c, kind, address in tuples(m.Identity.select(m.Identity.customer, m.Identity.kind, m.Identity.address))
        if ledger.identity_hash(kind, address, salt) in hashes
    }
    return sorted(out)
