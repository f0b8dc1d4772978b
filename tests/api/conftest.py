"""A live ticket API on each backend: the real public app (``ingest.public.make_app``) on a
loopback port, a desk with teams and agents that makes tickets through the real pipeline,
and keys of every scope."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests

from helpline.ingest import public
from helpline.store.access import api_keys

from ..routing.conftest import configured_desk
from ..support.aio_server import ThreadedApp
from ..workers.builders import Desk
from helpline.ingest.http import app_keys as K


@dataclass
class Api:
    url: str
    desk: Desk
    keys: dict[str, str]
    delivered: list[int] = field(default_factory=list)

    def call(self, method: str, path: str, key: str | None = "write", **kw) -> requests.Response:  # noqa: ANN003
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        return requests.request(method, self.url + "/api/v1" + path, headers=headers, timeout=30, **kw)


@pytest.fixture
def api(backend, tmp_path):
    yield from serve(configured_desk(backend, tmp_path))


def serve(desk: Desk):  # noqa: ANN201
    """The API of ``desk`` on a loopback port, with a key of every scope; yields the Api, then stops it."""
    keys = {scope: api_keys.create(f"{scope}-client", [scope]).key for scope in ("ingest", "read", "write", "admin")}
    keys["billing"] = api_keys.create("billing-desk", ["admin"], team="billing").key
    delivered: list[int] = []
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api-test")

    def make():  # noqa: ANN202
        app = public.make_app(desk.settings, None, executor)
        app[K.DELIVER_OUTBOX] = delivered.append
        return app

    server = ThreadedApp(make, "ticket-api").start()
    yield Api(server.url, desk, keys, delivered)
    server.stop()
    executor.shutdown(wait=True)
