"""MMS media: fetched from Twilio by a worker, never inside the webhook request.

The pipeline records one ``SmsMedia`` row per ``MediaUrlN`` of an inbound MMS
in the transaction that stores the message; right after that commit the
worker fetches them (``fetch``), and the scheduler picks up any left pending
(``fetch_stale``: a worker that died, Twilio briefly down). Each fetch counts
an attempt first, downloads with the account's credentials (HTTP basic auth;
only to the Twilio API host, so a URL can never carry them elsewhere),
streams at most ``HELPLINE_MMS_MAX_BYTES``, puts the bytes in the blob store
and adds the attachment to the message in one transaction that first checks
the row is still pending: fetching twice stores once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import mimetypes
from typing import Any
from urllib.parse import urlsplit

import requests

from helpline.store import db
from helpline.store.channels import sms_state
from helpline.store.storage.blobs import BlobStore
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.channels.sms_state import MediaJob as Job
from helpline.store.channels.sms_state import MediaStatus

from helpline.notifier.logkv import line, log

CHUNK = 64 * 1024


class MediaError(Exception):
    def __init__(self, message: str, *, final: bool, status: str = MediaStatus.FAILED) -> None:
        super().__init__(message)
        self.final = final
        self.status = status


def _on_api_host(url: str, settings: Settings) -> bool:
    got, api = urlsplit(url), urlsplit(settings.twilio_api_url)
    return (got.scheme, got.netloc.lower()) == (api.scheme, api.netloc.lower()) and got.scheme in ("https", "http")


def download(url: str, settings: Settings, *, timeout: float = 30.0) -> tuple[bytes, str]:
    """The media bytes and their content type; raises MediaError."""
    if not _on_api_host(url, settings):
        raise MediaError(
            f"media URL is not on the Twilio API host {urlsplit(settings.twilio_api_url).netloc}", final=True
        )
    limit = settings.mms_max_bytes
    try:
        # requests drops the credentials when Twilio redirects to its storage host.
        with requests.get(
            url, auth=(settings.twilio_account_sid, settings.twilio_auth_token), stream=True, timeout=timeout
        ) as resp:
            if resp.status_code in (404, 410):
                raise MediaError(f"Twilio answered {resp.status_code}: the media is gone", final=True)
            if resp.status_code >= 400:
                raise MediaError(f"Twilio answered {resp.status_code}", final=False)
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaError(
                    f"{declared} bytes, more than HELPLINE_MMS_MAX_BYTES={limit}",
                    final=True,
                    status=MediaStatus.TOO_LARGE,
                )
            data = bytearray()
            for chunk in resp.iter_content(CHUNK):
                data += chunk
                if len(data) > limit:
                    raise MediaError(
                        f"more than HELPLINE_MMS_MAX_BYTES={limit} bytes", final=True, status=MediaStatus.TOO_LARGE
                    )
            return bytes(data), resp.headers.get("Content-Type", "").split(";")[0].strip()
    except requests.RequestException as exc:
        raise MediaError(f"network error: {type(exc).__name__}", final=False) from None


def _claim(media_id: int, max_attempts: int, now: dt.datetime) -> Job | None:
    return db.run_tx(functools.partial(sms_state.claim_media, media_id, max_attempts, now))


def _store(job: Job, data: bytes, content_type: str, blobs: BlobStore, now: dt.datetime) -> bool:
    key = blobs.put(data)
    ctype = job.content_type or content_type or "application/octet-stream"
    ext = mimetypes.guess_extension(ctype) or ".bin"
    return db.run_tx(
        functools.partial(
            sms_state.store_media,
            job,
            filename=f"mms-{job.position + 1}{ext}",
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            blob_key=key,
            now=now,
        )
    )


def fetch(media_ids: list[int], settings: Settings, blobs: BlobStore) -> dict[str, Any]:
    """Fetch these pending media rows; returns how many ended which way."""
    done = {"stored": 0, "retry": 0, "failed": 0, "too_large": 0}
    for media_id in media_ids:
        job = _claim(media_id, settings.max_attempts, utcnow())
        if job is None:
            continue
        try:
            data, ctype = download(job.url, settings)
        except MediaError as exc:
            log.warning(
                line("mms_media_fetch_failed", media=job.id, attempt=job.attempts, final=exc.final, error=str(exc))
            )
            if exc.final:
                db.run_tx(
                    functools.partial(sms_state.finish_media, job.id, job.ticket_id, exc.status, str(exc), utcnow())
                )
                done["too_large" if exc.status == MediaStatus.TOO_LARGE else "failed"] += 1
            else:
                db.run_tx(functools.partial(sms_state.note_media_error, job.id, str(exc)))
                done["retry"] += 1
            continue
        if _store(job, data, ctype, blobs, utcnow()):
            done["stored"] += 1
            log.info(line("mms_media_stored", media=job.id, message=job.message_id, size=len(data)))
    return done


def fetch_stale(settings: Settings, blobs: BlobStore, limit: int = 100) -> dict[str, Any]:
    """The scheduler's sweep: pending media nobody fetched within ``pending_after_s``."""
    cutoff = utcnow() - dt.timedelta(seconds=settings.pending_after_s)
    ids = sms_state.stale_media(cutoff, limit)
    return fetch(ids, settings, blobs) if ids else {}
