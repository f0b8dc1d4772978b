"""One customer's erasure end to end: the store's part, the providers' part, the queue's files.

The queue carries only row ids, yet the bundled Redis's append-only file is
a log of every command it ever ran; ``BGREWRITEAOF`` replaces it with the
current keys only, so nothing an erasure removed can be replayed from it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from helpline.store.storage import blobs
from helpline.store.config import Settings
from helpline.store.lifecycle import erasure, ledger, tasks

log = logging.getLogger("helpline.workers")


def erase(settings: Settings, customer_id: int, *, actor: str) -> dict[str, Any]:
    """Erase the customer (refused under a legal hold); the report, with no personal data in it."""
    from helpline.notifier import erasure_cleanup

    store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    report = erasure.erase_customer(customer_id, store, actor=actor, ledger_file=ledger.ledger_path(settings))
    provider = erasure_cleanup.run(settings, customer_id)
    out = report.as_dict()
    out["provider"] = provider
    out["provider_tasks_by_status"] = tasks.counts(customer_id)
    out["redis_aof"] = rewrite_embedded_aof(settings)
    return out


def rewrite_embedded_aof(settings: Settings, timeout: float = 30.0) -> str:
    """Rewrite the bundled Redis's append-only file (started for the purpose when it is not running)."""
    if not settings.embedded_redis:
        return "external redis: not rewritten (see deploy/README.md)"
    import redis

    from helpline.workers.redis_embedded import EmbeddedRedis

    server = EmbeddedRedis(settings.redis_socket)
    started = not server.ping()
    server.start()
    try:
        client = redis.Redis(unix_socket_path=settings.redis_socket, socket_timeout=5)
        deadline = time.monotonic() + timeout
        while client.info("persistence").get("aof_rewrite_in_progress"):  # one already running: wait for it
            if time.monotonic() > deadline:
                return "aof rewrite busy"
            time.sleep(0.05)
        client.bgrewriteaof()
        while True:
            info = client.info("persistence")
            if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
                return "rewritten" if info.get("aof_last_bgrewrite_status", "ok") == "ok" else "rewrite failed"
            if time.monotonic() > deadline:
                return "aof rewrite still running"
            time.sleep(0.05)
    finally:
        if started:
            server.stop()
