"""Export and erasure of a customer through the API, for admin keys.

``POST /api/v1/customers/{ref}/export`` answers the zip (``application/zip``)
that ``helpline customers export`` writes; ``POST /api/v1/customers/{ref}/erase``
with the body ``{"confirm": "erase"}`` erases and answers the report. ``ref``
is a customer id or one of their addresses (URL-encoded). Both need the
``admin`` scope and a key bound to no team (a customer's tickets span teams);
both are audited with the key as the actor. 404 for an unknown customer, 409
under a legal hold, 422 without the confirmation.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from aiohttp import web

from helpline.ingest.http import app_keys as K
from helpline.ingest.http.api_auth import UNAVAILABLE, Caller, authorize, error

BASE = "/api/v1/customers"


async def _admin(request: web.Request) -> Caller:
    from helpline.ingest.http import api_permissions

    caller = await authorize(request, "admin")
    if caller.team:
        raise error(
            web.HTTPForbidden,
            "key",
            "a team-bound key cannot export or erase a customer: use an admin key bound to no team",
        )
    try:
        api_permissions.require(caller, "export_erase")  # a personal key: its agent must be an admin
    except api_permissions.PermissionDenied as exc:
        d = exc.decision
        raise error(web.HTTPForbidden, "role", str(exc), needed=d.needed, role=d.role) from None
    return caller


async def _blocking(request: web.Request, fn: Any) -> Any:
    from helpline.store.tickets.customers import CustomerError
    from helpline.store.lifecycle.erasure import ErasureRefused

    try:
        return await request.app[K.RUN_BLOCKING](fn)
    except ErasureRefused as exc:
        raise error(web.HTTPConflict, "customer", str(exc)) from None
    except CustomerError as exc:
        raise error(web.HTTPNotFound, "customer", str(exc)) from None
    except UNAVAILABLE:
        raise error(web.HTTPServiceUnavailable, "database", "the database is unavailable; retry later") from None


async def post_export(request: web.Request) -> web.Response:
    caller = await _admin(request)
    settings = request.app[K.SETTINGS]
    ref = request.match_info["ref"]

    def work() -> bytes:
        from helpline.store.storage import blobs
        from helpline.store.lifecycle import export, lookup

        cid = lookup.resolve(ref)
        fd, path = tempfile.mkstemp(prefix="helpline-export-", suffix=".zip")
        os.close(fd)
        try:
            export.export_customer(
                cid, path, blobs.open_store(settings.blob_backend, settings.effective_blob_dir), actor=caller.actor
            )
            with open(path, "rb") as fh:
                return fh.read()
        finally:
            os.unlink(path)

    data = await _blocking(request, work)
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="customer-export.zip"', "Cache-Control": "no-store"},
    )


async def post_erase(request: web.Request) -> web.Response:
    caller = await _admin(request)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or body.get("confirm") != "erase":
        raise error(web.HTTPUnprocessableEntity, "confirm", 'send {"confirm": "erase"}: erasure cannot be undone')
    settings = request.app[K.SETTINGS]
    ref = request.match_info["ref"]

    def work() -> dict[str, Any]:
        from helpline.store.lifecycle import lookup
        from helpline.workers.tickets import customer_erasure

        return customer_erasure.erase(settings, lookup.resolve(ref), actor=caller.actor)

    report = await _blocking(request, work)
    return web.json_response(report, dumps=lambda o: json.dumps(o, default=str))


def install(app: web.Application) -> None:
    app.router.add_post(BASE + "/{ref}/export", post_export)
    app.router.add_post(BASE + "/{ref}/erase", post_erase)
