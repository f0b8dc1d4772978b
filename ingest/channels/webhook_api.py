"""``POST /api/v1/messages``: messages from apps and other systems.

Authentication, one of:

- a signature per source (``HELPLINE_WEBHOOK_SOURCES``): ``X-Helpline-Source``,
  ``X-Helpline-Timestamp`` (Unix seconds, at most 5 minutes from our clock
  either way) and ``X-Helpline-Signature: sha256=<hex HMAC(secret,
  timestamp + "." + body)>``, compared in constant time; a signature accepted
  once is refused as a replay (kept in the database, so every ingest daemon
  knows it);
- ``Authorization: Bearer <key>`` with an API key of scope ``ingest``
  (``helpline api-keys create``). The key's name is its source: a key and a
  signing source of the same name are one source (same Idempotency-Keys,
  conversations and external user ids), which lets an integration move from one
  to the other.

Answers: 202 ``{"inbound_id", "status"}`` once the message is durable
(``accepted``, ``duplicate`` for a retry, ``spooled`` without an id while the
database is down); 400 with ``{"errors": [{"field", "error"}]}``; 401 for a
missing or bad signature or key; 403 for a key without the scope; 413 over
``HELPLINE_MAX_MESSAGE_BYTES``; 415 for a body neither JSON nor form data; 429
over ``HELPLINE_WEBHOOK_RATE_PER_MINUTE`` per source (or the source's own rate,
``HELPLINE_WEBHOOK_SOURCE_RATES`` or ``rate_per_minute`` in the file) or per client address
(``api_limits``, which also answers 429 to an address whose keys or signatures
keep failing, before checking them); 422 for an
Idempotency-Key accepted before with another body; 503 when nothing could
be made durable (retry). No secret, signature or key is ever logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import peewee as pw
from aiohttp import web

from helpline.store.access import api_keys
from helpline.store.channels import webhook_state
from helpline.store.config import Settings
from helpline.store.db import DatabaseUnavailable
from helpline.store.channels.webhook_signing import parse_rates, parse_sources, signature_valid, timestamp_error

from helpline.ingest.http import api_limits
from helpline.ingest import metrics
from helpline.ingest.channels import webhook_message
from helpline.ingest.intake import IdempotencyConflict, Rejected, TemporaryIntakeError
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")

KIND = "webhook"
CHANNEL = "webhook"
PATH = "/api/v1/messages"
_UNAVAILABLE = (DatabaseUnavailable, pw.OperationalError, pw.InterfaceError)
_DECOY = secrets.token_hex(32)


def _error(status: int, field: str, error: str, result: str, headers: dict[str, str] | None = None) -> web.Response:
    metrics.INBOUND.labels(CHANNEL, result).inc()
    return web.json_response({"errors": [{"field": field, "error": error}]}, status=status, headers=headers)


class _Caller:
    """Who sent the request, once authenticated."""

    def __init__(self, source: str, auth: str, signature: str = "", stamp: int = 0) -> None:
        self.source, self.auth, self.signature, self.stamp = source, auth, signature, stamp


async def _authenticate(request: web.Request, raw: bytes) -> _Caller | web.Response:
    sources: dict[str, tuple[str, ...]] = request.app[K.WEBHOOK_SOURCES]
    authz = request.headers.get("Authorization", "")
    name = request.headers.get("X-Helpline-Source", "")
    if name:
        stamp = request.headers.get("X-Helpline-Timestamp", "").strip()
        sig = request.headers.get("X-Helpline-Signature", "")
        if not stamp or not sig:
            return _error(
                401,
                "signature",
                "X-Helpline-Source needs X-Helpline-Timestamp and X-Helpline-Signature",
                "unauthorized",
            )
        problem = timestamp_error(stamp, time.time())
        if problem:
            log.warning("event=webhook_refused reason=timestamp source=%s", name[:64])
            return _error(401, "timestamp", problem, "unauthorized")
        # An unknown source is checked against a decoy secret, so that "unknown source" and "wrong
        # signature" take the same time and get the same answer: neither can be probed.
        known = sources.get(name)
        if not (signature_valid(known or (_DECOY,), stamp, raw, sig) and known):
            log.warning("event=webhook_refused reason=signature source=%s", name[:64])
            return _error(
                401,
                "signature",
                "the signature does not match (unknown source, wrong secret, or the "
                "body or timestamp changed after signing)",
                "unauthorized",
            )
        return _Caller(name, "signature", sig.strip().lower().removeprefix("sha256="), int(stamp))
    if authz:
        scheme, _, key = authz.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(401, "authorization", "use Authorization: Bearer <API key>", "unauthorized")
        try:
            check = await request.app[K.RUN_BLOCKING](api_keys.check, key.strip(), "ingest")
        except _UNAVAILABLE:
            return _error(
                503,
                "authorization",
                "the API key cannot be checked while the database is unavailable; "
                "retry later (signed requests are accepted meanwhile)",
                "temp_failed",
                {"Retry-After": "30"},
            )
        if check.verdict == "scope":
            log.warning("event=webhook_refused reason=scope key_id=%s", check.key_id)
            return _error(403, "authorization", "this API key lacks the 'ingest' scope", "forbidden")
        if check.verdict != "ok":
            log.warning("event=webhook_refused reason=key_%s key_id=%s", check.verdict, check.key_id or "")
            return _error(401, "authorization", "unknown or revoked API key", "unauthorized")
        return _Caller(check.name, "api_key")
    return _error(
        401,
        "authorization",
        "sign the request (X-Helpline-Source, X-Helpline-Timestamp, "
        "X-Helpline-Signature) or send Authorization: Bearer <API key>",
        "unauthorized",
    )


async def post_message(request: web.Request) -> web.Response:
    settings: Settings = request.app[K.SETTINGS]
    run = request.app[K.RUN_BLOCKING]
    limit = settings.max_message_bytes
    if (request.content_length or 0) > limit:
        return _error(413, "body", f"larger than {limit} bytes (HELPLINE_MAX_MESSAGE_BYTES)", "too_large")
    ctype = request.headers.get("Content-Type", "")
    if ctype.split(";", 1)[0].strip().lower() not in ("application/json", "multipart/form-data"):
        return _error(415, "content-type", "send application/json or multipart/form-data", "rejected")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "body", f"larger than {limit} bytes (HELPLINE_MAX_MESSAGE_BYTES)", "too_large")
    caller = await _authenticate(request, raw)
    if isinstance(caller, web.Response):
        return caller
    key = request.headers.get("Idempotency-Key", "").strip()
    if key and not webhook_message.TOKEN_RE.match(key):
        return _error(400, "idempotency-key", "must be 1-200 printable ASCII characters without spaces", "rejected")

    rate = request.app[K.WEBHOOK_RATES].get(caller.source, settings.webhook_rate_per_minute)
    also = api_limits.address_counters(request)  # the client address's count, in the same transaction
    try:
        verdict = (
            "ok"
            if not caller.signature and rate <= 0 and not also
            else await run(
                lambda: webhook_state.admit(
                    caller.source,
                    rate,
                    60,
                    also=also,
                    signature=caller.signature,
                    source=caller.source,
                    stamp=caller.stamp,
                )
            )
        )
    except _UNAVAILABLE:
        # Unchecked while the database is away: the request is spooled, and an exact
        # replay of it becomes a no-op at intake (same external id and content).
        verdict = "unchecked"
    if verdict == "rate_limited":
        log.warning("event=webhook_rate_limited source=%s", caller.source)
        return _error(
            429,
            "source",
            f"more than {rate} requests per minute "
            "(HELPLINE_WEBHOOK_RATE_PER_MINUTE or the source's own rate); slow down and retry",
            "rate_limited",
            {"Retry-After": "60"},
        )
    if verdict == "also_limited":
        log.warning("event=webhook_rate_limited remote=%s", api_limits.client(request))
        metrics.INBOUND.labels(CHANNEL, "rate_limited").inc()
        raise api_limits.address_limited(settings)
    if verdict == "replay":
        log.warning("event=webhook_refused reason=replay source=%s", caller.source)
        return _error(
            401,
            "signature",
            "this signature was already used; sign every request (a retry too) with a fresh timestamp",
            "replay",
        )

    meta: dict[str, Any] = {"source": caller.source, "auth": caller.auth, "content_type": ctype, "idempotency_key": key}
    try:
        result = await run(K.intake_of(request.app).accept_request, KIND, raw, meta)
    except BaseException as exc:
        if caller.signature and verdict == "ok":  # not accepted, for whatever reason: its retry is no replay
            try:
                await run(webhook_state.release, caller.signature)
            except _UNAVAILABLE:
                pass
        if not isinstance(exc, (Rejected, TemporaryIntakeError)):
            raise
        if isinstance(exc, IdempotencyConflict):
            metrics.INBOUND.labels(CHANNEL, "rejected").inc()
            log.warning("event=webhook_refused reason=idempotency_conflict source=%s", caller.source)
            return web.json_response({"errors": exc.errors}, status=422)
        if isinstance(exc, Rejected):
            metrics.INBOUND.labels(CHANNEL, "rejected").inc()
            return web.json_response({"errors": exc.errors or [{"field": "body", "error": str(exc)}]}, status=400)
        log.error("event=webhook_not_accepted source=%s error=%s", caller.source, exc)
        return _error(
            503, "body", "temporarily unable to accept the message; retry", "temp_failed", {"Retry-After": "30"}
        )
    metrics.INBOUND.labels(CHANNEL, result.status).inc()
    log.info(
        "event=webhook_accepted source=%s auth=%s status=%s inbound=%s",
        caller.source,
        caller.auth,
        result.status,
        result.inbound_id or "",
    )
    return web.json_response({"inbound_id": result.inbound_id, "status": result.status}, status=202)


def register_builders(intake: Any) -> None:
    """The parser the spool drain needs too (the scheduler drains without the HTTP app)."""
    intake.register(KIND, webhook_message.build, idempotency_keys=True)


def install(app: web.Application) -> None:
    """Add ``POST /api/v1/messages``. Always on: without sources or keys every request gets 401."""
    settings: Settings = app[K.SETTINGS]
    app[K.WEBHOOK_SOURCES] = parse_sources(settings.webhook_sources)  # a bad setting stops the start, clearly
    app[K.WEBHOOK_RATES] = parse_rates(settings.webhook_source_rates)
    if app[K.INTAKE] is not None:
        register_builders(app[K.INTAKE])
    app.router.add_post(PATH, post_message)
