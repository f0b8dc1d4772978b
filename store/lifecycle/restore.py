"""A restore end to end: files in place, schema brought up to date, outbox held, erasures re-applied."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any, Sequence

from helpline.store.config import Settings
from helpline.store.lifecycle import backup, ledger


@dataclass
class RestoreResult:
    engine: str
    created_at: str
    blobs: int
    keys_restored: bool
    outbox_held: int = 0
    erasures_reapplied: int = 0
    migrations_applied: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def restore(settings: Settings, path: str, *, passphrase: str, ledger_files: Sequence[str] = ()) -> RestoreResult:
    """Restore ``path`` into the (empty) database and data directory of ``settings``."""
    from helpline.store import db, migrations
    from helpline.store.storage.blobs import open_store
    from helpline.store.lifecycle import erasure

    got = backup.restore_files(settings, path, passphrase=passphrase)
    try:
        result = RestoreResult(got.manifest["engine"], got.manifest["created_at"], len(got.blobs), bool(got.keys))
    finally:
        shutil.rmtree(got.root, ignore_errors=True)
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    ledger.forget_salt()
    result.migrations_applied = migrations.upgrade()
    result.outbox_held = db.run_tx(backup.hold_outbox)
    hashes = db.run_tx(ledger.table_hashes, durable=False)
    for f in ledger_files:
        hashes |= ledger.read_file(f)
    store = open_store(settings.blob_backend, settings.effective_blob_dir)
    for cid in db.run_tx(lambda: backup.customers_to_erase(hashes), durable=False):
        erasure.erase_customer(
            cid, store, actor="restore:ledger", ledger_file=ledger.ledger_path(settings), reapply=True
        )
        result.erasures_reapplied += 1
    return result
