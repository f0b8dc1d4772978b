"""Rate limits of the API routes (``/api/…``): per key, per client address, and on failed keys.

Three limits, all answered 429 with ``Retry-After`` and the API's error body:

- per key: ``HELPLINE_WEBHOOK_RATE_PER_MINUTE`` (or the source's own rate)
  for each webhook source or API key, on every route, counted where the key is
  known (``webhook_api.post_message``, ``api_auth.authorize``);
- per client address: ``HELPLINE_API_RATE_PER_ADDRESS`` requests a minute,
  counted in the same transaction as the key's (``address_counters``), so
  webhook intake pays no extra round trip. The addresses of
  ``HELPLINE_HTTP_TRUSTED_PROXIES`` (loopback by default) are exempt: a
  reverse proxy that names no client, ``helpline bench``, local scripts;
- failed keys: after ``HELPLINE_API_FAILED_AUTH_PER_MINUTE`` answers 401 to
  one client address within a sliding minute, every API request from it gets
  429 *before its key is checked*, until the window has slid past (trusted
  proxies are exempt here too: blocking one would block every client behind
  it; with ``X-Forwarded-For`` each client is judged on its own).

The counters are the ``rate_counter`` rows every ingest daemon shares
(``store.webhook_state.admit``), so the limits hold across daemons. The
failed-key check reads the database only for addresses this process saw fail
in the last window (``_Failures``): a client that never fails costs nothing.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Awaitable, Callable

import peewee as pw
from aiohttp import web

from helpline.store.channels import webhook_state
from helpline.store.config import Settings
from helpline.store.db import DatabaseUnavailable

from helpline.ingest.http import app_keys as K
from helpline.ingest.http.client_address import client_address, is_trusted

log = logging.getLogger("helpline.ingest")

WINDOW_S = 60
PREFIX = "/api/"
OPENAPI = "/api/v1/openapi.json"  # the one API route without a key: counted here, by address
_UNAVAILABLE = (DatabaseUnavailable, pw.OperationalError, pw.InterfaceError)
_CLIENT = web.RequestKey("helpline_client", str)  # the client address, worked out once per request


def client(request: web.Request) -> str:
    """The client's address (behind a trusted proxy: the last hop it did not add)."""
    got = request.get(_CLIENT)
    if got is None:
        got = request[_CLIENT] = client_address(request, request.app[K.SETTINGS].http_trusted_proxies)
    return got


def address_counters(request: web.Request) -> tuple[tuple[str, int], ...]:
    """The per-address counter to count with the key's (``admit(..., also=…)``); none when off or exempt."""
    settings: Settings = request.app[K.SETTINGS]
    remote = client(request)
    if settings.api_rate_per_address <= 0 or is_trusted(remote, settings.http_trusted_proxies):
        return ()
    return ((f"api-addr:{remote}", settings.api_rate_per_address),)


def too_many(field: str, message: str, retry_after: int) -> web.HTTPException:
    """429 with the API's error body (``{"errors": [{"field", "error"}]}``) and ``Retry-After``."""
    return web.HTTPTooManyRequests(
        text=json.dumps({"errors": [{"field": field, "error": message}]}),
        content_type="application/json",
        headers={"Retry-After": str(max(1, retry_after))},
    )


async def count_key(request: web.Request, name: str, rate: int) -> None:
    """Count one request of the key ``name`` (limit ``rate`` a minute) and of the client's address, in one
    transaction; raises the 429. Unchecked while the database is away (the handler answers 503 then)."""
    also = address_counters(request)
    if rate <= 0 and not also:
        return
    try:
        verdict = await request.app[K.RUN_BLOCKING](lambda: webhook_state.admit(name, rate, WINDOW_S, also=also))
    except _UNAVAILABLE:
        return
    if verdict == "rate_limited":
        log.warning("event=api_rate_limited key=%s", name)
        raise key_limited(rate)
    if verdict == "also_limited":
        log.warning("event=api_rate_limited remote=%s", client(request))
        raise address_limited(request.app[K.SETTINGS])


def address_limited(settings: Settings) -> web.HTTPException:
    return too_many(
        "client",
        f"more than {settings.api_rate_per_address} API requests a minute from this "
        "address (HELPLINE_API_RATE_PER_ADDRESS); slow down and retry",
        WINDOW_S,
    )


def key_limited(rate: int) -> web.HTTPException:
    return too_many(
        "authorization",
        f"more than {rate} requests a minute with this key (HELPLINE_WEBHOOK_RATE_"
        "PER_MINUTE or the source's own rate); slow down and retry",
        WINDOW_S,
    )


def seconds_until_below(current: int, previous: int, limit: int, now: float, window_s: int = WINDOW_S) -> int:
    """Seconds until the sliding estimate (``current`` plus the fading ``previous``) is under ``limit``,
    if nothing more is counted; at least 1."""
    into = (now % window_s) / window_s
    if current < limit:
        if previous <= 0:
            return 1
        needed = 1.0 - (limit - current) / previous  # the fraction of this window at which it is under
        return max(1, math.ceil(round((needed - into) * window_s, 6)))
    # Under only once this window's count has faded enough in the next one.
    return max(1, math.ceil(round((1.0 - into) * window_s + (1.0 - limit / current) * window_s, 6)))


class _Failures:
    """Addresses this process answered 401 within the last window, and those known to be blocked until when."""

    MAX = 50_000  # a spray of forged addresses must not grow this without end

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, float] = {}
        self.blocked: dict[str, float] = {}

    def suspect(self, remote: str, now: float) -> bool:
        with self.lock:
            return now - self.seen.get(remote, -1e18) < 2 * WINDOW_S

    def blocked_for(self, remote: str, now: float) -> int:
        with self.lock:
            until = self.blocked.get(remote, 0.0)
        return math.ceil(until - now) if until > now else 0

    def note(self, remote: str, now: float, blocked_until: float = 0.0) -> None:
        with self.lock:
            if len(self.seen) >= self.MAX:
                self.seen = {a: t for a, t in self.seen.items() if now - t < 2 * WINDOW_S}
                if len(self.seen) >= self.MAX:
                    self.seen.clear()
                self.blocked = {a: t for a, t in self.blocked.items() if t > now}
            self.seen[remote] = now
            if blocked_until:
                self.blocked[remote] = blocked_until


FAILURES = web.AppKey("api_failures", _Failures)


async def _refuse_failing(request: web.Request, limit: int) -> web.HTTPException | None:
    """429 when the client's failed authentications fill the window (a database read only for suspects)."""
    remote, failures, now = client(request), request.app[FAILURES], time.time()
    wait = failures.blocked_for(remote, now)
    if not wait and failures.suspect(remote, now):
        try:
            current, previous = await request.app[K.RUN_BLOCKING](
                webhook_state.counts, f"authfail:{remote}", WINDOW_S, now
            )
        except _UNAVAILABLE:
            return None
        into = (now % WINDOW_S) / WINDOW_S
        if current + previous * (1.0 - into) >= limit:
            wait = seconds_until_below(current, previous, limit, now)
            failures.note(remote, now, now + wait)
    if not wait:
        return None
    log.warning("event=api_refused reason=failed_auth_limit remote=%s", remote)
    return too_many(
        "authorization",
        f"too many failed authentications from this address (more than {limit} a "
        "minute, HELPLINE_API_FAILED_AUTH_PER_MINUTE); fix the key or signature, then retry",
        wait,
    )


async def _record_failure(request: web.Request) -> None:
    remote, now = client(request), time.time()
    request.app[FAILURES].note(remote, now)
    try:
        await request.app[K.RUN_BLOCKING](webhook_state.record, f"authfail:{remote}", WINDOW_S, now)
    except _UNAVAILABLE:
        pass


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(PREFIX):
        return await handler(request)
    settings: Settings = request.app[K.SETTINGS]
    failed_limit = settings.api_failed_auth_per_minute
    if is_trusted(client(request), settings.http_trusted_proxies):
        failed_limit = 0  # a proxy that names no client would otherwise block everyone behind it
    if failed_limit > 0:
        refused = await _refuse_failing(request, failed_limit)
        if refused is not None:
            raise refused
    if request.path == OPENAPI and address_counters(request):
        name, limit = address_counters(request)[0]
        try:
            verdict = await request.app[K.RUN_BLOCKING](webhook_state.admit, name, limit, WINDOW_S)
        except _UNAVAILABLE:
            verdict = "unchecked"
        if verdict == "rate_limited":
            raise address_limited(settings)
    try:
        response = await handler(request)
    except web.HTTPUnauthorized:
        if failed_limit > 0:
            await _record_failure(request)
        raise
    if response.status == 401 and failed_limit > 0:
        await _record_failure(request)
    return response


def install(app: web.Application) -> None:
    """Put the limits in front of every API route (before ``make_app`` adds the routes' handlers)."""
    app[FAILURES] = _Failures()
    app.middlewares.append(middleware)
