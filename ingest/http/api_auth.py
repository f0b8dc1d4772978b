"""Bearer API keys for the ticket API: who is calling, and may they do this.

Scopes nest: ``read`` (GETs), ``write`` (replies, notes, changes; includes
read), ``admin`` (everything, bulk operations too). ``ingest`` keys only post
messages and get 403 here. A key bound to a team (``--team``) is confined to
that team's tickets by the handlers (404 for the others). Answers: 401 without
a key or with an unknown or revoked one, 403 for a key without the scope, 429
over the key's or the client address's rate (``api_limits``), 503
while the database cannot check it. Keys never reach a log line; the key's id
and name do.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import peewee as pw
from aiohttp import web

from helpline.store.access import api_keys
from helpline.store.db import DatabaseUnavailable
from helpline.ingest.http import api_limits
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")
UNAVAILABLE = (DatabaseUnavailable, pw.OperationalError, pw.InterfaceError)


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    team: str | None
    scopes: frozenset[str]
    agent: str | None = None  # a personal key's agent: it acts as them, within their role

    @property
    def actor(self) -> str:
        """The audit events' actor: a personal key's agent, else the key's name, marked as coming through the API."""
        return self.agent if self.agent else f"api:{self.name}"


def error(cls: type[web.HTTPException], field: str, message: str, **extra: object) -> web.HTTPException:
    """An HTTP error with the API's body: ``{"errors": [{"field", "error"}], ...}``."""
    body = {"errors": [{"field": field, "error": message}], **extra}
    return cls(text=json.dumps(body), content_type="application/json")


def errors(cls: type[web.HTTPException], items: list[dict[str, str]]) -> web.HTTPException:
    return cls(text=json.dumps({"errors": items}), content_type="application/json")


async def authorize(request: web.Request, scope: str) -> Caller:
    """The caller of ``request`` if its key carries ``scope``; raises the HTTP error otherwise."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("send Authorization: Bearer <API key> (`helpline api-keys create --scope read`)")
    try:
        check = await request.app[K.RUN_BLOCKING](api_keys.check, key, scope)
    except UNAVAILABLE:
        exc = error(
            web.HTTPServiceUnavailable,
            "authorization",
            "the API key cannot be checked while the database is unavailable; retry later",
        )
        exc.headers["Retry-After"] = "30"
        raise exc from None
    if check.verdict == "scope":
        log.warning("event=api_refused reason=scope key_id=%s scope=%s", check.key_id, scope)
        raise error(
            web.HTTPForbidden,
            "authorization",
            f"this API key lacks the {scope!r} scope (it has: {', '.join(sorted(check.scopes)) or 'none'})",
        )
    if check.verdict != "ok":
        log.warning("event=api_refused reason=key_%s key_id=%s", check.verdict, check.key_id or "")
        raise _unauthorized("unknown or revoked API key")
    settings = request.app[K.SETTINGS]
    await api_limits.count_key(
        request,
        f"api-key:{check.key_id}",
        request.app.get(K.WEBHOOK_RATES, {}).get(check.name, settings.webhook_rate_per_minute),
    )
    return Caller(check.key_id or 0, check.name, check.team, check.scopes, check.agent)


def _unauthorized(message: str) -> web.HTTPException:
    exc = error(web.HTTPUnauthorized, "authorization", message)
    exc.headers["WWW-Authenticate"] = 'Bearer realm="helpline"'
    return exc
