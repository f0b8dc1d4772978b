"""Incidents in the ticket API: ``GET /api/v1/incidents``, ``GET /api/v1/incidents/{id}`` and
``POST /api/v1/incidents/{id}/reply``.

Scopes as for tickets: GETs need ``read``, a reply ``write``. A team-bound key
sees incidents with at least one of its team's tickets, and only those
tickets (``store.incident_views``); its reply is refused (409) when the
incident has active tickets of another team, since the one answer would reach
their customers too. The reply is ``workers.incidents.reply``, as ``helpline
incidents reply`` runs it: one answer on every open ticket's own channel, and
the same ``Idempotency-Key`` never sends twice. The answers follow
``ingest.ticket_api`` (its helpers are used here) and ``ingest.openapi``
describes them.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from aiohttp import web

from helpline.store.views import incident_views
from helpline.store.privacy import pii
from helpline.store.db import run_tx
from helpline.store.clock import utcnow
from helpline.store.views.queries import TicketNotFound

from helpline.ingest.http import api_permissions
from helpline.ingest.http import ticket_api as api
from helpline.ingest.http.api_auth import authorize, error, errors
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")

STATUSES = ("open", "resolved")


def _id(request: web.Request) -> int:
    iid = incident_views.incident_id(request.match_info["incident"])
    if iid is None:
        raise error(
            web.HTTPNotFound,
            "incident",
            f"no incident {request.match_info['incident'][:64]!r} (INC-000001, or its number)",
        )
    return iid


def _not_found(iid: int) -> TicketNotFound:
    from helpline.store.tickets.similarity_state import incident_number

    return TicketNotFound(f"no incident {incident_number(iid)}")


async def list_incidents(request: web.Request) -> web.Response:
    caller = await authorize(request, "read")
    q = request.query
    problems = [{"field": k, "error": "unknown query parameter"} for k in q if k not in ("status", "limit", "cursor")]
    status = q.get("status")
    if status is not None and status not in STATUSES:
        problems.append({"field": "status", "error": f"must be one of {', '.join(STATUSES)}"})
    limit, before = 50, None
    if q.get("limit") is not None:
        if not re.fullmatch(r"[0-9]{1,4}", q["limit"].strip()) or not 1 <= int(q["limit"]) <= api.MAX_LIMIT:
            problems.append({"field": "limit", "error": f"an integer from 1 to {api.MAX_LIMIT}"})
        else:
            limit = int(q["limit"])
    if q.get("cursor") is not None:
        if not re.fullmatch(r"[0-9]{1,9}", q["cursor"].strip()):
            problems.append({"field": "cursor", "error": "use the next_cursor of the previous page"})
        else:
            before = int(q["cursor"])
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)
    items, nxt = await api._run(
        request,
        lambda: run_tx(
            lambda: incident_views.list_page(status=status, limit=limit, before=before, scope_team=caller.team),
            durable=False,
        ),
    )
    return web.json_response({"incidents": items, "next_cursor": str(nxt) if nxt is not None else None})


async def get_incident(request: web.Request) -> web.Response:
    caller = await authorize(request, "read")
    iid = _id(request)

    def work() -> dict[str, Any]:
        got = run_tx(lambda: incident_views.detail(iid, caller.team), durable=False)
        if got is None:
            raise _not_found(iid)
        if api_permissions.sees_pii(caller):
            return got
        return pii.mask_json(got, tokens=request.app[K.SETTINGS].pii_mask_tokens)

    return web.json_response(await api._run(request, work))


async def post_reply(request: web.Request) -> web.Response:
    caller = await authorize(request, "write")
    iid = _id(request)
    text, author, idem = await api.answer_fields(request, caller)
    settings = request.app[K.SETTINGS]
    reply_key = f"api:{caller.key_id}:{idem or uuid.uuid4().hex}"

    def work() -> Any:
        from helpline.store.tickets.similarity_state import ACTIVE
        from helpline.workers.tickets import incidents
        from helpline.workers.tickets import replies
        from helpline.workers.tickets.ticket_ops import TicketOpError

        def tx() -> Any:
            if incident_views.detail(iid, caller.team) is None:
                raise _not_found(iid)
            if caller.team is not None:
                others = incident_views.other_teams(iid, caller.team, ACTIVE)
                if others:
                    raise TicketOpError(
                        f"this API key is bound to team {caller.team}; the incident also has open "
                        f"tickets of team(s) {', '.join(others)}, whose customers the reply would "
                        "reach: reply with a key not bound to a team"
                    )
            api_permissions.require(caller, "reply")
            who = api_permissions.author_of(caller, author)
            return incidents.reply(
                iid,
                text or "",
                agent=who,
                actor=caller.actor,
                reply_key=reply_key,
                settings=settings,
                now=utcnow(),
                request=replies.request_hash(text=text or "", author=who) if idem else "",
            )

        return api._in_tx(tx)

    out = await api._run(request, work)
    api._deliver(request, out.outbox_ids)
    repeated = bool(idem) and bool(out.sent) and not out.outbox_ids
    log.info(
        "event=api_incident_reply key_id=%s incident=%d sent=%d skipped=%d repeated=%s",
        caller.key_id,
        iid,
        len(out.sent),
        len(out.skipped),
        repeated,
    )
    from helpline.store.tickets.similarity_state import incident_number

    return web.json_response(
        {"incident": incident_number(iid), "sent": out.sent, "skipped": out.skipped, "repeated": repeated},
        status=200 if repeated else 201,
    )


def install(app: web.Application) -> None:
    """Add the incident routes to the ticket API (always on: without a key every request gets 401)."""
    app.router.add_get(f"{api.BASE}/incidents", list_incidents)
    app.router.add_get(api.BASE + "/incidents/{incident}", get_incident)
    app.router.add_post(api.BASE + "/incidents/{incident}/reply", post_reply)
