"""Rate limits on every API route: per key, per client address, and on failed keys (issue 12, item 6).

Before, ``HELPLINE_WEBHOOK_RATE_PER_MINUTE`` applied to message posts only: the
ticket API took any number of requests per key or address, and a client could
try keys as fast as the server answered. Clients are told apart by
``X-Forwarded-For`` through the (trusted) loopback proxy, the way a reverse
proxy in front names them. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import time

import pytest
import requests

from helpline.ingest.http.api_limits import seconds_until_below

from ..api.conftest import serve
from ..webhook.conftest import hook_settings  # noqa: F401 (fixture)
from ..webhook.support import CRM_SECRET, PublicServer, encode, message, post_signed, signed_headers
from ..workers.builders import Desk

MALLORY, ALICE = "198.51.100.7", "203.0.113.5"


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def api_with(backend, **limits):  # noqa: ANN001, ANN003, ANN201
    return serve(Desk(backend.replace(**limits)))


@pytest.fixture
def strict_api(backend):
    yield from api_with(backend, api_failed_auth_per_minute=5, api_rate_per_address=8, webhook_rate_per_minute=4)


def test_repeated_failed_keys_get_429_before_any_key_is_checked(strict_api):
    api = strict_api
    for i in range(5):
        r = api.call("GET", "/tickets", key=f"hlk_wrong{i:040d}", headers=via(MALLORY))
        assert r.status_code == 401, r.text
    blocked = api.call("GET", "/tickets", key="read", headers=via(MALLORY))  # even a valid key: not checked
    assert blocked.status_code == 429, blocked.text
    assert 1 <= int(blocked.headers["Retry-After"]) <= 120
    assert blocked.json()["errors"][0]["field"] == "authorization"
    no_key = api.call("GET", "/tickets", key=None, headers=via(MALLORY))
    assert no_key.status_code == 429
    # another client is not affected
    assert api.call("GET", "/tickets", key="read", headers=via(ALICE)).status_code == 200


def test_per_key_limit_on_the_ticket_api(strict_api):
    api = strict_api
    codes = [api.call("GET", "/tickets", key="read", headers=via(ALICE)).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    limited = api.call("GET", "/tickets", key="read", headers=via(ALICE))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "this key" in limited.json()["errors"][0]["error"]
    assert api.call("GET", "/tickets", key="write", headers=via(ALICE)).status_code == 200  # another key


def test_per_address_limit_across_keys(strict_api):
    api = strict_api
    codes = [
        api.call("GET", "/tickets", key=k, headers=via(MALLORY)).status_code
        for k in ("read", "write", "admin", "read", "write", "admin", "read", "write")
    ]
    assert codes == [200] * 8
    limited = api.call("GET", "/tickets", key="admin", headers=via(MALLORY))
    assert limited.status_code == 429 and limited.json()["errors"][0]["field"] == "client"
    assert "Retry-After" in limited.headers
    assert api.call("GET", "/tickets", key="admin", headers=via(ALICE)).status_code == 200
    # the API's one keyless route counts by address too
    assert api.call("GET", "/openapi.json", key=None, headers=via(MALLORY)).status_code == 429
    assert api.call("GET", "/openapi.json", key=None, headers=via(ALICE)).status_code == 200


def test_trusted_proxies_themselves_are_exempt_from_the_address_limit(backend):
    for api in api_with(backend, api_rate_per_address=2, webhook_rate_per_minute=0, api_failed_auth_per_minute=2):
        assert [api.call("GET", "/tickets", key="read").status_code for _ in range(5)] == [200] * 5
        assert [api.call("GET", "/tickets", key="hlk_bad").status_code for _ in range(3)] == [401] * 3
        assert api.call("GET", "/tickets", key="read").status_code == 200


@pytest.fixture
def hooks(hook_settings):
    srv = PublicServer(hook_settings.replace(api_failed_auth_per_minute=3, api_rate_per_address=4)).start()
    yield srv
    srv.stop()


def post(server: PublicServer, body: bytes, headers: dict[str, str], address: str) -> requests.Response:
    return requests.post(server.url + "/api/v1/messages", data=body, headers={**headers, **via(address)}, timeout=30)


def test_webhook_messages_bad_signatures_count_as_failed_keys(hooks):
    raw = encode(message())
    for _ in range(3):
        assert post(hooks, raw, signed_headers(raw, secret="not-the-secret-0123456789"), MALLORY).status_code == 401
    good = post(hooks, raw, signed_headers(raw), MALLORY)
    assert good.status_code == 429 and int(good.headers["Retry-After"]) >= 1
    assert post(hooks, raw, signed_headers(raw), ALICE).status_code == 202


def test_webhook_messages_are_limited_per_address_across_sources(hooks):
    now = int(time.time())
    codes = []
    for i in range(5):
        raw = encode(message(text=f"Question number {i}"))
        src = {"source": "crm", "secret": CRM_SECRET} if i % 2 else {}
        codes.append(post(hooks, raw, signed_headers(raw, timestamp=now, **src), MALLORY).status_code)
    assert codes == [202, 202, 202, 202, 429]
    raw = encode(message(text="From elsewhere"))
    assert post(hooks, raw, signed_headers(raw, timestamp=now), ALICE).status_code == 202
    # the loopback proxy itself (bench, local scripts) is exempt
    assert all(post_signed(hooks, message(text=f"local {i}"), timestamp=now).status_code == 202 for i in range(5))


def test_seconds_until_below():
    # 30 s into a window: 10 now, 20 before, limit 20 -> the estimate 20 falls under 20 just after now
    assert seconds_until_below(10, 20, 20, now=30.0) == 1
    assert seconds_until_below(10, 0, 20, now=30.0) == 1
    # 5 now, 30 before, limit 20: under when 30*(1-x) < 15, x > 0.5 -> 30 s from the window start: from 10 s, 20 s
    assert seconds_until_below(5, 30, 20, now=10.0) == 20
    # 40 now, limit 20: the rest of this window (50 s) plus half of the next (30 s)
    assert seconds_until_below(40, 0, 20, now=10.0) == 80
