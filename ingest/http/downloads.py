"""Signed download links on the public listener: ``GET /files/{token}``.

Twilio fetches an agent's MMS media from here, and customers, agents and a
webhook source's app open attachment links from here (``store.download_links``
makes them). No login: the token is the permission, so

- a malformed or forged token, or one naming an attachment that is gone, is
  404 with the same short text, telling nothing about which files exist;
- a genuine but expired token is 410 (the person should ask for a new link);
- the file is served as a download (``Content-Disposition: attachment`` with
  the RFC 6266 ``filename*``), with ``nosniff`` and a sandboxing
  Content-Security-Policy, because its type and bytes came from a customer or
  an agent and must never run as a page of our origin;
- with HELPLINE_CLAMD_SOCKET it is scanned first (``store/storage/attachment_scan.py``): a file the scanner
  withheld is 403, and while the scanner is down an unscanned file is 503 (fail closed, retry later);
- caches may keep it no longer than the link lives (``private, max-age`` up
  to the expiry), and it is never indexed or sent on as a Referer.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import quote

from aiohttp import web

from helpline.store import signing
from helpline.store.storage import attachment_scan
from helpline.store.storage import clamd
from helpline.store.storage import download_links
from helpline.store.config import Settings
from helpline.store.db import run_tx
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")
PREFIX = "/files/"
NOT_FOUND = "This download link is not valid."
GONE = "This download link has expired; ask for the file again."
WITHHELD = "This file was withheld by the virus scanner and cannot be downloaded."
SCANNER_DOWN = (
    "This file has not been checked for viruses yet and the scanner is not available; try again in a few minutes."
)
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def _lookup(attachment_id: int) -> tuple[str, str, str] | None:
    """(filename, content type, blob key) of the attachment, or None."""
    return run_tx(lambda: download_links.stored_file(attachment_id), durable=False)


def content_type(value: str) -> str:
    """The stored type if it is a plain ``type/subtype``, else application/octet-stream."""
    value = (value or "").split(";")[0].strip().lower()
    return value if _TYPE.match(value) else "application/octet-stream"


def disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback for old clients and the exact name as RFC 5987 ``filename*``."""
    name = " ".join((filename or "").replace("/", "_").replace("\\", "_").split())[:200] or "file"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(
        status=status,
        text=text,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff"},
    )


async def download(request: web.Request) -> web.Response:
    settings: Settings = request.app[K.SETTINGS]
    got = signing.read_download_token(settings.secret_key, request.match_info["token"])
    if got is None:
        log.info("event=download_refused reason=bad_token")
        return _refuse(404, NOT_FOUND)
    attachment_id, expires = got
    left = expires - int(time.time())
    if left <= 0:
        log.info("event=download_refused reason=expired attachment=%d", attachment_id)
        return _refuse(410, GONE)
    run_blocking = request.app[K.RUN_BLOCKING]
    if attachment_scan.enabled(settings):  # scanned before it is served; clamd down: fail closed
        try:
            verdict = await run_blocking(attachment_scan.ensure, settings, attachment_id)
        except clamd.ClamdUnavailable as exc:
            log.warning(
                "event=download_refused reason=scanner_unavailable attachment=%d error=%s",
                attachment_id,
                str(exc)[:200],
            )
            refused = _refuse(503, SCANNER_DOWN)
            refused.headers["Retry-After"] = "60"
            return refused
        if verdict is not None and verdict.status != clamd.CLEAN:
            log.warning("event=download_refused reason=%s attachment=%d", verdict.status, attachment_id)
            return _refuse(403, WITHHELD)
    found = await run_blocking(_lookup, attachment_id)
    data = await run_blocking(attachment_scan.read_blob, settings, found[2]) if found else None
    if found is None or data is None:
        log.info("event=download_refused reason=missing attachment=%d", attachment_id)
        return _refuse(404, NOT_FOUND)
    filename, ctype, key = found
    log.info("event=download attachment=%d bytes=%d", attachment_id, len(data))
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type(ctype),
            "Content-Disposition": disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": f"private, max-age={left}",
            "Expires": _http_date(expires),
            "ETag": f'"{key.partition(":")[2][:32]}"',
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )


def _http_date(epoch: int) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


def install(app: web.Application) -> None:
    """Serve links whenever they can be signed (HELPLINE_SECRET_KEY is set)."""
    if not app[K.SETTINGS].secret_key:
        return
    app.router.add_get(PREFIX + "{token}", download)
