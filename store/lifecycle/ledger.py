"""The erasure ledger: salted hashes of erased identities, kept so that no restore undoes an erasure.

Each erased identity (``kind:address``) is kept only as
``sha256(salt || kind || address)``, in the ``erasure_ledger`` table and
appended to a ledger file (``HELPLINE_ERASURE_LEDGER``, by default beside the
database) that operators keep apart from the backups. A restore from a backup
taken before an erasure hashes every identity it brought back and erases the
customers whose hash is in either ledger. The salt lives in the database
(migration 17), so the file alone cannot be checked against a list of
guessed addresses; phone numbers are few enough that the salt is what keeps
them from being enumerated.

The same hash replaces an erased number in the SMS opt-out table, so a STOP
keeps holding for that number without the number being stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from pathlib import Path
from typing import Iterable

from helpline.store import fastsql
from helpline.store.config import Settings
from helpline.store.models import utcnow

_salt_cache: dict[str, str] = {}
_lock = threading.Lock()


def ledger_path(settings: Settings) -> str:
    return settings.erasure_ledger or os.path.join(settings.data_dir, "erasure-ledger")


def salt() -> str:
    """The database's ledger salt (made by migration 17)."""
    from helpline.store.db import database

    key = str(getattr(database(), "database", ""))
    with _lock:
        if key not in _salt_cache:
            row = fastsql.fetchone('SELECT value FROM "lifecycle_secret" WHERE name = ?', ["ledger_salt"])
            if row is None:
                raise RuntimeError("no ledger salt: run `helpline db upgrade` (migration 17)")
            _salt_cache[key] = str(row[0])
        return _salt_cache[key]


def forget_salt() -> None:
    """After a restore replaced the database (tests switch databases too)."""
    with _lock:
        _salt_cache.clear()


def identity_hash(kind: str, address: str, salt_hex: str | None = None) -> str:
    s = salt() if salt_hex is None else salt_hex
    return hashlib.sha256(f"{s}\x00{kind}\x00{address.strip().lower()}".encode()).hexdigest()


def phone_hash(number: str) -> str:
    """What an erased number is kept as in ``sms_opt_out`` (64 hex digits: never a valid E.164 number)."""
    return identity_hash("phone", number)


def record(hashes: Iterable[str], now: dt.datetime | None = None) -> None:
    """Into the table (the caller's transaction)."""
    when = now or utcnow()
    for h in hashes:
        fastsql.execute(
            'INSERT INTO "erasure_ledger" (hash, erased_at) VALUES (?, ?) ON CONFLICT DO NOTHING', [h, when]
        )


def append_file(path: str, hashes: Iterable[str], now: dt.datetime | None = None) -> None:
    """Append to the ledger file and fsync: it must outlive the database it describes."""
    lines = "".join(f"{h} {(now or utcnow()).isoformat()}Z\n" for h in hashes)
    if not lines:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: str) -> set[str]:
    """The hashes of a ledger file; lines that are not a hash are ignored (a torn last line)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return set()
    out = set()
    for line in text.splitlines():
        h = line.split(" ", 1)[0]
        if len(h) == 64 and all(c in "0123456789abcdef" for c in h):
            out.add(h)
    return out


def table_hashes() -> set[str]:
    return {str(r[0]) for r in fastsql.fetchall('SELECT hash FROM "erasure_ledger"', [])}
