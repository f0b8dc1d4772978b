"""The public HTTP listener as the ingest daemon runs it (``public.make_app`` with
a real intake and executor), served on a loopback port from a thread of its
own, and a client that signs requests the way the API documentation says:
HMAC-SHA256 over ``timestamp + "." + body`` computed here with ``hmac``, not
with Helpline's own helper."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from aiohttp import web

from helpline.ingest import public
from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.store.storage.blobs import FileBlobStore
from helpline.store.config import Settings

SHOP_SECRET = "shop-secret-0123456789abcdef"
CRM_SECRET = "crm-secret-0123456789abcdef0"
SOURCES = f"shop={SHOP_SECRET},crm={CRM_SECRET}"


class PublicServer:
    """``make_app`` on 127.0.0.1:<free port>; ``submitted`` collects the enqueued inbound ids."""

    def __init__(self, settings: Settings, intake: EmailIntake | None = None) -> None:
        self.settings = settings
        self.submitted: list[int] = []
        self.intake = intake or EmailIntake(
            settings,
            FileBlobStore(settings.effective_blob_dir),
            self.submitted.append,
            Spool(settings.effective_spool_dir),
        )
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-intake")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> "PublicServer":
        self.thread.start()

        async def up() -> str:
            self.runner = web.AppRunner(public.make_app(self.settings, self.intake, self.executor), access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
            return f"http://127.0.0.1:{port}"

        self.url = asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        return self

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.executor.shutdown(wait=True)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes,
    *,
    source: str = "shop",
    secret: str = SHOP_SECRET,
    timestamp: int | None = None,
    idempotency_key: str = "",
    content_type: str = "application/json",
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Helpline-Source": source,
        "X-Helpline-Timestamp": str(ts),
        "X-Helpline-Signature": sign(secret, ts, body),
    }
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def message(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"email": "ann@example.org", "name": "Ann Customer"},
        "subject": "Order 4711 has not arrived",
        "text": "Where is my parcel? It is a week late.",
    }
    body.update(over)
    return body


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()


def post_signed(server: PublicServer, body: Any, **kw: Any) -> requests.Response:
    raw = body if isinstance(body, bytes) else encode(body)
    return requests.post(server.url + "/api/v1/messages", data=raw, headers=signed_headers(raw, **kw), timeout=30)


def post_bearer(server: PublicServer, body: Any, key: str, **headers: str) -> requests.Response:
    raw = body if isinstance(body, bytes) else encode(body)
    return requests.post(
        server.url + "/api/v1/messages",
        data=raw,
        timeout=30,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}", **headers},
    )
