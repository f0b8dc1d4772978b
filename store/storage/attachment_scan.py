"""Every attachment scanned by clamd before it is downloaded or forwarded (HELPLINE_CLAMD_SOCKET).

An attachment's verdict is kept on its row (migration 24): "" until scanned,
then ``clean``, ``infected`` (the signature in ``scan_detail``) or
``unscannable`` (over clamd's StreamMaxLength, or refused). Only ``clean`` is
served (``ingest/http/downloads.py``), linked (``download_links``: a
withheld file is listed with its reason instead of a link, the notice agents
see) or uploaded (``notifier/slack/slack_sender.py``, MMS media); the bytes stay in
the blob store, quarantined, never deleted by this. A file is scanned when
first needed, and the scheduler scans what arrived in the meantime
(``scan_pending``); with clamd down nothing is decided, downloads fail closed
(503) and the next round tries again, so no mail is lost or let through.

Without HELPLINE_CLAMD_SOCKET nothing is scanned and files are served as before.
"""

from __future__ import annotations

import logging
from typing import Any

from helpline.store import fastsql
from helpline.store.storage import blobs
from helpline.store.storage import clamd
from helpline.store.config import Settings
from helpline.store.db import run_tx
from helpline.store.models import utcnow

log = logging.getLogger("helpline.store")

WITHHELD = (clamd.INFECTED, clamd.UNSCANNABLE)


def enabled(settings: Settings) -> bool:
    return bool(settings.clamd_socket.strip())


def withheld_reason(status: str, detail: str) -> str:
    """What agents are told instead of the file ("" for a file that may be served)."""
    if status == clamd.INFECTED:
        return f"withheld: the virus scanner found {detail or 'malware'}"
    if status == clamd.UNSCANNABLE:
        return f"withheld: it could not be scanned ({detail or 'clamd refused it'})"
    return ""


def _state(attachment_id: int) -> tuple[str, str, str, int | None] | None:
    """(scan status, detail, blob key, ticket id) of the attachment, or None."""
    row = fastsql.fetchone(
        'SELECT a.scan_status, a.scan_detail, a.blob_key, m.ticket_id FROM "attachment" a '
        'JOIN "message" m ON m.id = a.message_id WHERE a.id = ?',
        [attachment_id],
    )
    return (str(row[0] or ""), str(row[1] or ""), str(row[2]), row[3]) if row else None


def _record(attachment_id: int, ticket_id: int | None, verdict: clamd.Verdict, filename: str = "") -> None:
    """Keep the verdict (own transaction); a withheld file gets an audit event on its ticket."""

    def tx() -> None:
        now = utcnow()
        changed = fastsql.execute(
            'UPDATE "attachment" SET scan_status = ?, scan_detail = ?, scanned_at = ? '
            "WHERE id = ? AND scan_status = ''",
            [verdict.status, verdict.detail[:255], now, attachment_id],
        ).rowcount
        if changed and verdict.status in WITHHELD and ticket_id is not None:
            fastsql.insert(
                "event",
                {
                    "ticket_id": ticket_id,
                    "actor": "system",
                    "kind": "attachment_quarantined",
                    "data": {
                        "attachment": attachment_id,
                        "status": verdict.status,
                        "detail": verdict.detail[:255],
                        "filename": filename[:200],
                    },
                    "created_at": now,
                },
            )

    run_tx(tx)


def read_blob(settings: Settings, key: str) -> bytes | None:
    """A stored blob's bytes, None when it is gone (the database backend reads in its own transaction)."""
    store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    try:
        if settings.blob_backend == "db":
            return run_tx(lambda: store.get(key), durable=False)
        return store.get(key)
    except blobs.BlobNotFound:
        return None


def ensure(settings: Settings, attachment_id: int) -> clamd.Verdict | None:
    """The attachment's verdict, scanning it now if it was not yet; None when scanning is off or the
    attachment (or its bytes) is gone. Raises ``clamd.ClamdUnavailable``: nothing decided, try later.
    Runs its own short transactions: never call it inside one (it waits on clamd)."""
    if not enabled(settings):
        return None
    state = run_tx(lambda: _state(attachment_id), durable=False)
    if state is None:
        return None
    status, detail, key, ticket_id = state
    if status:
        return clamd.Verdict(status, detail)
    data = read_blob(settings, key)
    if data is None:
        return None
    verdict = clamd.scan(settings.clamd_socket, data, timeout=settings.clamd_timeout_s)
    name = run_tx(
        lambda: fastsql.fetchone('SELECT filename FROM "attachment" WHERE id = ?', [attachment_id]), durable=False
    )
    _record(attachment_id, ticket_id, verdict, str(name[0]) if name else "")
    log.info("event=attachment_scanned attachment=%d status=%s", attachment_id, verdict.status)
    return verdict


def ensure_blob(settings: Settings, blob_key: str) -> clamd.Verdict | None:
    """``ensure`` for the attachment row holding ``blob_key`` (an agent's file in an outgoing payload)."""
    if not enabled(settings) or not blob_key:
        return None
    row = run_tx(
        lambda: fastsql.fetchone('SELECT id FROM "attachment" WHERE blob_key = ? ORDER BY id LIMIT 1', [blob_key]),
        durable=False,
    )
    return ensure(settings, int(row[0])) if row else None


def scan_pending(settings: Settings, limit: int = 50) -> int:
    """Scan attachments that have no verdict yet (the scheduler's job); stops at the first clamd failure
    (they stay unscanned and are tried next round). Returns how many were scanned."""
    if not enabled(settings):
        return 0
    ids = run_tx(
        lambda: [
            int(r[0])
            for r in fastsql.fetchall(
                "SELECT id FROM \"attachment\" WHERE scan_status = '' ORDER BY id LIMIT ?", [limit]
            )
        ],
        durable=False,
    )
    done = 0
    for one in ids:
        try:
            ensure(settings, one)
        except clamd.ClamdUnavailable as exc:
            log.warning("event=attachment_scan_deferred attachment=%d error=%s", one, str(exc)[:200])
            break
        done += 1
    return done


def statuses(ids: list[int]) -> dict[int, tuple[str, str]]:
    """attachment id -> (scan status, detail), inside the caller's transaction."""
    if not ids:
        return {}
    rows: list[Any] = fastsql.fetchall(
        f'SELECT id, scan_status, scan_detail FROM "attachment" WHERE id IN ({", ".join("?" for _ in ids)})', list(ids)
    )
    return {int(r[0]): (str(r[1] or ""), str(r[2] or "")) for r in rows}
