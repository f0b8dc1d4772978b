"""Signed, expiring download links to stored attachments: ``{HELPLINE_PUBLIC_URL}/files/{token}``.

Twilio fetches MMS media from a URL, a webhook source's app shows files to
its user by URL, and Slack's parent post links the customer's files: all of
them get a link the public listener serves (``ingest/http/downloads.py``) without
a login. The token names one attachment row and an expiry, signed with
``HELPLINE_SECRET_KEY`` (``signing.download_token``), so a link cannot be
stretched to another file or a later date, and dropping a key from the
rotation list revokes every link it signed. Links are made when a message is
sent or re-rendered, so each carries a fresh expiry
(``HELPLINE_DOWNLOAD_URL_DAYS``).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from dataclasses import dataclass

from helpline.store import fastsql, signing
from helpline.store.config import Settings


@dataclass(frozen=True)
class Linked:
    """One attachment with its link (``url`` is "" when links cannot be made)."""

    id: int
    filename: str
    content_type: str
    size: int
    url: str
    expires: int  # Unix seconds; 0 without a link
    withheld: str = ""  # why the virus scan keeps it back (no link then): the notice agents see


def can_link(settings: Settings) -> bool:
    """Links need a public address to point at and a key to sign with."""
    return bool(settings.public_url and settings.secret_key)


def expiry(settings: Settings, now: float | None = None) -> int:
    return int((time.time() if now is None else now) + settings.download_url_days * 86400)


def url_for(settings: Settings, attachment_id: int, *, expires: int | None = None) -> str:
    """The link to one attachment; "" when HELPLINE_PUBLIC_URL or HELPLINE_SECRET_KEY is unset."""
    if not can_link(settings):
        return ""
    token = signing.download_token(settings.secret_key, attachment_id, expires or expiry(settings))
    return f"{settings.public_url.rstrip('/')}/files/{token}"


def of_message(settings: Settings, message_id: int, *, now: float | None = None) -> list[Linked]:
    """The message's attachments (not inline images of an HTML body), each with a fresh link."""
    rows = fastsql.fetchall(
        'SELECT id, filename, content_type, size FROM "attachment" WHERE message_id = ? AND inline = ? ORDER BY id',
        [message_id, False],
    )
    return linked(settings, rows, now=now)


def of_ids(settings: Settings, ids: list[int], *, now: float | None = None) -> list[Linked]:
    """The given attachment rows (in that order, missing ones left out), each with a fresh link."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = {
        r[0]: r
        for r in fastsql.fetchall(
            f'SELECT id, filename, content_type, size FROM "attachment" WHERE id IN ({marks})', list(ids)
        )
    }
    return linked(settings, [rows[i] for i in ids if i in rows], now=now)


def linked(settings: Settings, rows: list[Any], *, now: float | None = None) -> list[Linked]:
    """A link for each row, except a file the virus scan withheld (``attachment_scan``): its reason instead."""
    from helpline.store.storage.attachment_scan import statuses, withheld_reason

    until = expiry(settings, now) if can_link(settings) else 0
    scans = statuses([int(r[0]) for r in rows])
    out = []
    for r in rows:
        why = withheld_reason(*scans.get(int(r[0]), ("", "")))
        out.append(
            Linked(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                int(r[3]),
                "" if why else url_for(settings, int(r[0]), expires=until),
                0 if why else until,
                why,
            )
        )
    return out


def iso(expires: int) -> str:
    return dt.datetime.fromtimestamp(expires, dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def stored_file(attachment_id: int) -> tuple[str, str, str] | None:
    """(filename, content type, blob key) of the attachment a link names, or None when there is none."""
    row = fastsql.fetchone('SELECT filename, content_type, blob_key FROM "attachment" WHERE id = ?', [attachment_id])
    return (str(row[0]), str(row[1]), str(row[2])) if row else None
