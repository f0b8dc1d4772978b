"""The CPU half of an import, run in a process pool: bytes to a prepared message.

Parsing and normalising a mail, then classifying it (category, language,
sentiment, near-duplicate fingerprint) is most of an import's CPU and needs
no database writer, so it runs in one process per core while the parent
process writes batches. Blobs (the raw message, attachments) are written here
and fsync'd together per chunk before the parent commits the rows naming them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass
from typing import Any

_state: dict[str, Any] = {}
_DATE = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Parsed:
    where: str
    pos: str
    item: Any = None  # workers.history_import.Item
    error: str = ""


def init(settings: Any, dry_run: bool) -> None:
    """Per pool process: settings, the blob store (a dry run stores nothing)."""
    from helpline.store import db
    from helpline.store.storage import blobs

    _state["settings"] = settings
    _state["dry_run"] = dry_run
    if dry_run:
        import hashlib

        _state["put"] = lambda data: "sha256:" + hashlib.sha256(data).hexdigest()
        _state["store"] = None
    else:
        if settings.blob_backend == "db" and db.proxy.obj is None:
            db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
        store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
        _state["store"], _state["put"] = store, store.put


def message_date(raw: bytes) -> dt.datetime | None:
    """The Date header of the header block as naive UTC; None when absent or unreadable."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0][:65536]
    found = _DATE.search(head)
    if not found:
        return None
    try:
        when = email.utils.parsedate_to_datetime(found.group(1).decode("ascii", "replace").strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if not (dt.datetime(1980, 1, 1) <= when <= dt.datetime.utcnow() + dt.timedelta(days=2)):
        return None  # a clock set wrong: the import's own time is a better guess than 1970 or 2099
    return when


def parse_chunk(raws: list[tuple[str, str, bytes, str]]) -> list[Parsed]:
    """(where, pos, bytes, error) in, one ``Parsed`` out per message, in order."""
    import contextlib

    store = _state["store"]
    # One syncfs of the blob filesystem per chunk, not a fsync per file: the parent commits the rows
    # only after this returns, so no committed row names a blob a crash could lose.
    with store.synced_together(whole_filesystem=True) if store is not None else contextlib.nullcontext():
        return [_one(where, pos, data, error) for where, pos, data, error in raws]


def _one(where: str, pos: str, data: bytes, error: str) -> Parsed:
    from helpline.ingest.email.normalise import NotAnEmail, normalise_email
    from helpline.workers import pipeline
    from helpline.workers.history_import import Item

    if error:
        return Parsed(where, pos, error=error)
    s = _state["settings"]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    date = message_date(data) or now
    try:
        env = normalise_email(
            data,
            put_blob=_state["put"],
            support_addresses=s.support_addresses,
            received_at=date.replace(tzinfo=dt.timezone.utc),
        )
        pre = pipeline.prepare_envelope(env, s)
        env.raw_blob_key = _state["put"](data)
    except NotAnEmail as exc:
        return Parsed(where, pos, error=f"not an email: {exc}")
    except Exception as exc:  # noqa: BLE001 - one unreadable message must not stop the import
        return Parsed(where, pos, error=f"could not be parsed: {type(exc).__name__}: {str(exc)[:300]}")
    return Parsed(where, pos, Item(env, pre, env.raw_blob_key, date, where))
