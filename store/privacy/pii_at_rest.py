"""``HELPLINE_PII_AT_REST=redact``: stored texts lose their personal data once they are old (migration 20).

Masking on the way out (``store/privacy/pii.py``) keeps the stored texts whole, so an
agent may reveal them. A desk that must not keep card numbers or IBANs at all
beyond a time turns this on: the scheduler masks, in small batches, every
message older than ``HELPLINE_PII_AT_REST_DAYS`` (its subject, text, full text
and HTML, and the inbound row's envelope the message was made from) and drops
the raw MIME blob it was parsed from, since that holds the same data. Each
message is done once (``message.pii_redacted_at``). Attachments are kept: they
are files, which this does not read. A blob another row still names is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


from helpline.store import fastsql
from helpline.store.storage import blobs
from helpline.store.privacy import pii
from helpline.store.config import Settings
from helpline.store.db import run_tx
from helpline.store.models import Blob, Inbound, utcnow

BATCH = 200


@dataclass
class RedactReport:
    messages: int = 0
    raw_blobs_dropped: int = 0


def redact_due(settings: Settings, now: dt.datetime | None = None, batch: int = BATCH) -> RedactReport:
    """Redact one batch of messages that are due; a no-op unless ``HELPLINE_PII_AT_REST=redact``."""
    report = RedactReport()
    if settings.pii_at_rest != "redact":
        return report
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=settings.pii_at_rest_days)
    tokens = settings.pii_mask_tokens

    def tx() -> list[str]:
        rows = fastsql.fetchall(
            'SELECT id, inbound_id, subject, text, full_text, html, raw_blob_key FROM "message" '
            "WHERE pii_redacted_at IS NULL AND created_at < ? ORDER BY id LIMIT ?",
            [cutoff, batch],
        )
        keys: list[str] = []
        for mid, inbound_id, subject, text, full_text, html, raw_key in rows:
            fastsql.execute(
                'UPDATE "message" SET subject = ?, text = ?, full_text = ?, html = ?, raw_blob_key = ?, '
                "pii_redacted_at = ? WHERE id = ?",
                [
                    pii.mask(subject or "", tokens=tokens),
                    pii.mask(text or "", tokens=tokens),
                    pii.mask(full_text or "", tokens=tokens),
                    pii.mask(html or "", tokens=tokens),
                    "",
                    now,
                    mid,
                ],
            )
            if inbound_id is not None:
                inbound = Inbound.get_or_none(Inbound.id == inbound_id)
                if inbound is not None:
                    keys.append(inbound.raw_blob_key)
                    Inbound.update(envelope=pii.mask_json(inbound.envelope, tokens=tokens), raw_blob_key="").where(
                        Inbound.id == inbound_id
                    ).execute()
            keys.append(raw_key or "")
        report.messages = len(rows)
        return sorted({k for k in keys if k})

    dropped = run_tx(tx)
    for key in dropped:
        if _drop_if_unused(settings, key):
            report.raw_blobs_dropped += 1
    return report


def _drop_if_unused(settings: Settings, key: str) -> bool:
    """Delete the blob unless a message, an inbound row or an attachment still names it."""

    def still_named() -> bool:
        return any(
            fastsql.fetchone(f'SELECT 1 FROM "{table}" WHERE {col} = ? LIMIT 1', [key])
            for table, col in (("message", "raw_blob_key"), ("inbound", "raw_blob_key"), ("attachment", "blob_key"))
        )

    if run_tx(still_named, durable=False):
        return False
    if settings.blob_backend == "db":
        return bool(run_tx(lambda: Blob.delete().where(Blob.key == key).execute()))
    store = blobs.FileBlobStore(settings.effective_blob_dir)
    try:
        path: Path = store._path(blobs._hex(key))  # noqa: SLF001  (the store's own layout)
        path.unlink()
    except (FileNotFoundError, blobs.BlobNotFound):
        return False
    return True
