"""The ticket API under ``/api/v1``: list, show, reply, note, change, merge, bulk.

Every request carries ``Authorization: Bearer <key>`` (``ingest.api_auth``):
GETs need ``read``, replies, notes, changes and merges ``write``, bulk
operations ``admin``. A team-bound key sees and changes only its team's
tickets; another team's ticket is 404, exactly like a ticket that does not
exist. The changes themselves are ``workers.ticket_ops`` (the lifecycle table
and agents' capacity are enforced there) and ``workers.api_ticket_ops``; each
runs in one transaction and is audited with the key's name as the actor.

Answers: 400 for a body that is not a JSON object, 422 with
``{"errors": [{"field", "error"}]}`` for invalid fields, 404 for an unknown
(or invisible) ticket, 409 for a change the ticket's state refuses (an invalid
status transition names the allowed ones in the message and in ``allowed``),
503 while the database is unreachable. ``/api/v1/openapi.json`` describes it
all (``ingest.openapi``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from typing import Any, Callable

from aiohttp import web

from helpline.router.lifecycle import STATUSES, InvalidTransition, allowed
from helpline.store.privacy import pii
from helpline.store.privacy import pii_reveal
from helpline.store.views import queries
from helpline.store.views import ticket_search
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import PRIORITIES
from helpline.store.db import run_tx
from helpline.store.clock import utcnow
from helpline.store.views.queries import TicketNotFound

from helpline.ingest import decoding
from helpline.ingest.http import api_permissions, openapi
from helpline.ingest.http.api_auth import UNAVAILABLE, Caller, authorize, error, errors
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")

BASE = "/api/v1"
routes = web.RouteTableDef()  # each handler's route stands above it
MAX_LIMIT = 200
MAX_TEXT = 100_000
MAX_BULK = 500
BULK_ACTIONS = ("assign", "status", "priority", "merge", "transfer")
CHANNELS = ("email", "sms", "slack", "webhook", "form")
BLANKS = " \t\r\n"  # the same as openapi.NONBLANK
_IDEMPOTENCY = re.compile(r"^[\x21-\x7e]{1,200}$")


class Invalid(Exception):
    def __init__(self, items: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{i['field']}: {i['error']}" for i in items))
        self.items = items


# ---- input -------------------------------------------------------------------------------
async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise error(web.HTTPUnsupportedMediaType, "content-type", "send the body as application/json")
    try:  # NUL is kept here for the fields' own checks to refuse (the contract: ingest.openapi.NONBLANK)
        body = decoding.load_json(await request.read() or b"null", nul="keep")
    except decoding.BodyError as exc:
        raise error(web.HTTPBadRequest, exc.field, f"the body cannot be read: {exc.reason}") from None
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "body", "the body must be a JSON object")
    return body


def _unknown(body: dict[str, Any], known: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"field": k, "error": f"unknown field; known fields: {', '.join(known)}"} for k in body if k not in known]


def _text(
    body: dict[str, Any], name: str, problems: list[dict[str, str]], *, required: bool = False, max_len: int = 200
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            problems.append({"field": name, "error": "required"})
        return None
    if not isinstance(value, str) or not value.strip(BLANKS) or "\x00" in value:
        problems.append({"field": name, "error": "must be a string that is not blank (and has no NUL)"})
        return None
    if len(value) > max_len:
        problems.append({"field": name, "error": f"at most {max_len} characters"})
        return None
    return value.strip(BLANKS)


def _choice(value: Any, name: str, choices: tuple[str, ...], problems: list[dict[str, str]]) -> str | None:
    if value not in choices:
        problems.append({"field": name, "error": f"must be one of {', '.join(choices)}"})
        return None
    return value


def _filters(query: Any) -> tuple[ticket_search.TicketFilter, int, int | None]:
    problems: list[dict[str, str]] = []
    known = (
        "status",
        "team",
        "assignee",
        "priority",
        "category",
        "channel",
        "customer",
        "updated_since",
        "q",
        "limit",
        "cursor",
    )
    problems += [{"field": k, "error": "unknown query parameter"} for k in query if k not in known]
    for k in set(query):
        if len(query.getall(k)) > 1:
            problems.append({"field": k, "error": "give it once (a list is comma-separated)"})

    def many(name: str, choices: tuple[str, ...]) -> tuple[str, ...]:
        raw = query.get(name)
        if raw is None:
            return ()
        items = tuple(x.strip() for x in raw.split(","))
        bad = [x for x in items if x not in choices]
        if bad:
            problems.append({"field": name, "error": f"{', '.join(map(repr, bad))} not one of {', '.join(choices)}"})
        return items

    def one(name: str, max_len: int = 200) -> str | None:
        raw = query.get(name)
        if raw is None:
            return None
        if not raw.strip(BLANKS) or len(raw) > max_len or "\x00" in raw:
            problems.append({"field": name, "error": f"must be 1 to {max_len} characters, not blank"})
            return None
        return raw.strip(BLANKS)

    status, priority = many("status", STATUSES), many("priority", PRIORITIES)
    channel = one("channel")
    if channel is not None:
        channel = _choice(channel, "channel", CHANNELS, problems)
    since = None
    if query.get("updated_since") is not None:
        try:
            since = dt.datetime.fromisoformat(query["updated_since"].strip().replace("Z", "+00:00"))
            if since.tzinfo is not None:
                since = since.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except ValueError:
            problems.append({"field": "updated_since", "error": "an ISO 8601 date-time, e.g. 2026-03-01T00:00:00Z"})
    limit = 50
    if query.get("limit") is not None:
        raw = query["limit"].strip()
        if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
            problems.append({"field": "limit", "error": f"an integer from 1 to {MAX_LIMIT}"})
        else:
            limit = int(raw)
    before = None
    if query.get("cursor") is not None:
        raw = query["cursor"].strip()
        if not re.fullmatch(r"[0-9]{1,18}", raw):
            problems.append({"field": "cursor", "error": "use the next_cursor of the previous page"})
        else:
            before = int(raw)
    f = ticket_search.TicketFilter(
        status=status,
        team=one("team"),
        assignee=one("assignee", 254),
        priority=priority,
        category=one("category"),
        channel=channel,
        customer=one("customer", 254),
        updated_since=since,
        q=one("q", 500),
    )
    if f.q is not None:
        from helpline.store.fulltext.search_syntax import QueryError, parse

        try:
            parse(f.q)  # the full-text search's language (store.search_syntax)
        except QueryError as exc:
            problems.append({"field": "q", "error": str(exc)})
    if problems:
        raise Invalid(problems)
    return f, limit, before


# ---- running blocking work ----------------------------------------------------------------
async def _run(request: web.Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Run database work off the loop, and turn its refusals into answers."""
    try:
        return await request.app[K.RUN_BLOCKING](fn, *args)
    except Invalid as exc:
        raise errors(web.HTTPUnprocessableEntity, exc.items) from None
    except TicketNotFound as exc:
        raise error(web.HTTPNotFound, "number", str(exc)) from None
    except InvalidTransition as exc:
        raise error(web.HTTPConflict, "status", str(exc), allowed=list(allowed(exc.current))) from None
    except UNAVAILABLE:
        exc = error(web.HTTPServiceUnavailable, "database", "the database is unavailable; retry later")
        exc.headers["Retry-After"] = "30"
        raise exc from None
    except _ticket_op_error() as exc:
        raise error(web.HTTPConflict, getattr(exc, "field", "ticket"), str(exc)) from None
    except _key_reused() as exc:
        raise error(web.HTTPUnprocessableEntity, "Idempotency-Key", str(exc)) from None
    except api_permissions.PermissionDenied as exc:
        d = exc.decision
        raise error(web.HTTPForbidden, "role", str(exc), needed=d.needed, role=d.role) from None
    except api_permissions.AuthorRefused as exc:
        raise error(web.HTTPUnprocessableEntity, "author", str(exc)) from None


def _key_reused() -> type[Exception]:
    from helpline.workers.tickets.replies import KeyReused

    return KeyReused


def _ticket_op_error() -> type[Exception]:
    from helpline.workers.tickets.ticket_ops import TicketOpError

    return TicketOpError


def _in_tx(fn: Callable[[], Any]) -> Any:
    from helpline.store.inbound import audit_events

    def tx() -> Any:
        with audit_events.buffered_events():
            return fn()

    return run_tx(tx)


def _deliver(request: web.Request, outbox_ids: list[int]) -> None:
    """Hand the new outbox rows to the senders now; the scheduler's sweep delivers any this misses."""
    send = request.app.get(K.DELIVER_OUTBOX)
    for oid in outbox_ids:
        try:
            send(oid)
        except Exception as exc:  # the row is committed; the sweep sends it
            log.warning("event=api_delivery_enqueue_failed outbox=%d error=%s", oid, type(exc).__name__)


def _queue_deliver(outbox_id: int) -> None:
    from helpline.workers import actors

    actors.deliver_outbox.send(outbox_id)


# ---- handlers ---------------------------------------------------------------------------------
def _tokens(request: web.Request) -> bool:
    return request.app[K.SETTINGS].pii_mask_tokens


@routes.get(f"{BASE}/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    caller = await authorize(request, "read")
    try:
        f, limit, before = _filters(request.query)
    except Invalid as exc:
        raise errors(web.HTTPUnprocessableEntity, exc.items) from None

    def work() -> tuple[Any, Any]:
        items, nxt = run_tx(
            lambda: ticket_search.list_page(f, limit=limit, before=before, scope_team=caller.team), durable=False
        )
        return (items if api_permissions.sees_pii(caller) else pii.mask_json(items, tokens=_tokens(request))), nxt

    items, nxt = await _run(request, work)
    return web.json_response({"tickets": items, "next_cursor": str(nxt) if nxt is not None else None})


@routes.get(BASE + "/tickets/{number}")
async def get_ticket(request: web.Request) -> web.Response:
    """The ticket with its messages; personal data masked unless the key may see it (``pii`` scope, and for a
    personal key an agent whose role may), in which case the view is an audited ``pii_revealed`` event."""
    caller = await authorize(request, "read")
    number = request.match_info["number"]
    tokens = _tokens(request)

    def work() -> dict[str, Any]:
        out = run_tx(lambda: ticket_search.detail(number, caller.team), durable=False)
        if not api_permissions.sees_pii(caller):
            return pii.mask_json(out, tokens=tokens)
        shown = [
            x["id"]
            for x in out.get("messages", [])
            if pii.has_pii(
                " ".join(str(x.get(k) or "") for k in ("subject", "text", "full_text", "html")), tokens=tokens
            )
        ]
        if shown:
            pii_reveal.record_view(ticket_search.visible(number, caller.team), shown, actor=caller.actor, via="api")
        return out

    out = await _run(request, work)
    return web.json_response(out, dumps=lambda o: json.dumps(o, default=str))


@routes.post(BASE + "/tickets/{number}/messages/{message_id}/reveal")
async def post_reveal(request: web.Request) -> web.Response:
    """One message unmasked, for a key with the ``pii`` scope (a personal key's agent must also have the
    ``see_pii`` permission on the ticket); audited as ``pii_revealed``."""
    caller = await authorize(request, "read")
    number = request.match_info["number"]
    if "pii" not in caller.scopes:
        raise error(web.HTTPForbidden, "authorization", "revealing personal data needs a key with the 'pii' scope")
    raw = request.match_info["message_id"]
    if not re.fullmatch(r"[0-9]{1,18}", raw):  # a database integer; anything else names no message
        raise error(web.HTTPNotFound, "message", "no such message")
    message_id = int(raw)

    def work() -> Any:
        tid = ticket_search.visible(number, caller.team)
        role = api_permissions.require(caller, "see_pii", tid) or "integration key"
        got = (
            pii_reveal.reveal(message_id, actor=caller.actor, via="api", role=role)
            if pii_reveal.message_of_ticket(message_id, tid)
            else None
        )
        if got is None:
            raise TicketNotFound(f"ticket {number.strip().upper()} has no message {message_id}")
        return got

    got = await _run(request, work)
    log.info("event=api_pii_revealed key_id=%s message=%d", caller.key_id, got.message_id)
    return web.json_response({"message": {"id": got.message_id, "text": got.text}})


async def answer_fields(request: web.Request, caller: Caller) -> tuple[str, str, str]:
    """An answer's body (text, author as given or "": ``api_permissions.author_of`` decides who it is by)
    and its optional Idempotency-Key, validated; 422 with the field errors. The ticket and the incident
    replies share it."""
    body = await _body(request)
    problems = _unknown(body, ("text", "author"))
    text = _text(body, "text", problems, required=True, max_len=MAX_TEXT)
    author = _text(body, "author", problems) or ""
    idem = request.headers.get("Idempotency-Key", "").strip()
    if idem and not _IDEMPOTENCY.match(idem):
        problems.append({"field": "Idempotency-Key", "error": "1 to 200 printable ASCII characters without spaces"})
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)
    return text, author, idem


@routes.post(BASE + "/tickets/{number}/replies")
async def post_reply(request: web.Request) -> web.Response:
    caller = await authorize(request, "write")
    number = request.match_info["number"]
    text, author, idem = await answer_fields(request, caller)
    settings: Settings = request.app[K.SETTINGS]
    key = f"api-reply:{caller.key_id}:{idem or uuid.uuid4().hex}"

    def work() -> tuple[Any, dict[str, Any]]:
        from helpline.workers.tickets import api_ticket_ops
        from helpline.workers.tickets import replies

        tid = ticket_search.visible(number, caller.team)
        api_permissions.require(caller, "reply", tid)
        who = api_permissions.author_of(caller, author)
        request = replies.request_hash(text=text, author=who) if idem else ""
        r = _in_tx(
            lambda: api_ticket_ops.reply(
                tid, text, author=who, actor=caller.actor, key=key, settings=settings, now=utcnow(), request=request
            )
        )
        return r, run_tx(lambda: queries.summary_of(number.strip().upper()), durable=False)

    r, ticket = await _run(request, work)
    _deliver(request, r.outbox_ids)
    log.info(
        "event=api_reply key_id=%s ticket=%s channel=%s repeated=%s",
        caller.key_id,
        ticket["number"],
        r.channel,
        r.repeated,
    )
    return web.json_response(
        {
            "message": {"id": r.message_id, "channel": r.channel, "recipient": r.recipient},
            "repeated": r.repeated,
            "ticket": ticket,
        },
        status=200 if r.repeated else 201,
    )


async def _write(
    request: web.Request, known: tuple[str, ...]
) -> tuple[Caller, str, dict[str, Any], list[dict[str, str]]]:
    """A change to one ticket: (the caller, with the ``write`` scope; the ticket's number; the JSON body; the
    problems of its unknown fields, for the handler to add its own to)."""
    caller = await authorize(request, "write")
    body = await _body(request)
    return caller, request.match_info["number"], body, _unknown(body, known)


@routes.post(BASE + "/tickets/{number}/notes")
async def post_note(request: web.Request) -> web.Response:
    caller, number, body, problems = await _write(request, ("text", "author"))
    text = _text(body, "text", problems, required=True, max_len=MAX_TEXT)
    author = _text(body, "author", problems) or ""
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)

    def work() -> int:
        from helpline.workers.tickets import api_ticket_ops

        tid = ticket_search.visible(number, caller.team)
        api_permissions.require(caller, "note", tid)
        who = api_permissions.author_of(caller, author)
        return _in_tx(lambda: api_ticket_ops.note(tid, text, author=who, actor=caller.actor, now=utcnow()))

    msg_id = await _run(request, work)
    return web.json_response({"message": {"id": msg_id, "direction": "note"}}, status=201)


PATCH_FIELDS = ("status", "priority", "assignee", "category", "team", "force", "reason")


def _changes(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    problems = _unknown(body, PATCH_FIELDS)
    changes: dict[str, Any] = {}
    if "status" in body:
        changes["status"] = _choice(body["status"], "status", STATUSES, problems)
    if "priority" in body:
        changes["priority"] = _choice(body["priority"], "priority", PRIORITIES, problems)
    if "assignee" in body:
        changes["assignee"] = None if body["assignee"] is None else _text(body, "assignee", problems, max_len=254)
    for name in ("category", "team"):
        if name in body:
            changes[name] = _text(body, name, problems, max_len=64 if name == "team" else 200)
    if "force" in body:
        if not isinstance(body["force"], bool):
            problems.append({"field": "force", "error": "must be true or false"})
        changes["force"] = body["force"] is True
    reason = _text(body, "reason", problems, max_len=1000) if "reason" in body else ""
    if not set(changes) - {"force"} and not problems:
        problems.append(
            {"field": "body", "error": "nothing to change: give status, priority, assignee, category or team"}
        )
    if problems:
        raise Invalid(problems)
    return changes, reason or ""


def _change_actions(caller: Caller, changes: dict[str, Any], assignee: str | None) -> list[str]:
    """The permission-table actions a PATCH's changes need."""
    from helpline.router import permissions

    out = []
    if "status" in changes:
        out.append("status")
    if {"priority", "category"} & set(changes):
        out.append("triage")
    if "team" in changes:
        out.append("transfer")
    if "assignee" in changes:
        actor = api_permissions.actor_of(caller)
        out.append(permissions.assign_action(actor, changes["assignee"], assignee))
    return out


def _patch_one(tid: int, changes: dict[str, Any], reason: str, caller: Caller, settings: Settings) -> None:
    from helpline.workers.tickets import api_ticket_ops
    from helpline.workers.tickets import ticket_ops

    if caller.agent:
        current = ticket_ops.load(tid).assignee
        for action in _change_actions(caller, changes, current):
            api_permissions.require(caller, action, tid)

    def op() -> None:
        t = ticket_ops.load(tid)
        api_ticket_ops.change(t, changes, actor=caller.actor, settings=settings, now=utcnow(), reason=reason)
        if caller.team is not None and t.team != caller.team:
            raise ticket_ops.TicketOpError(
                f"this API key is bound to team {caller.team}; it cannot move {t.number} to team {t.team}"
            )

    _in_tx(op)
    if {"status", "assignee", "team"} & set(changes):
        ticket_ops.offer_queue(settings)  # an agent freed by the change takes a queued ticket


@routes.patch(BASE + "/tickets/{number}")
async def patch_ticket(request: web.Request) -> web.Response:
    caller = await authorize(request, "write")
    number = request.match_info["number"]
    body = await _body(request)
    try:
        changes, reason = _changes(body)
    except Invalid as exc:
        raise errors(web.HTTPUnprocessableEntity, exc.items) from None
    settings: Settings = request.app[K.SETTINGS]

    def work() -> dict[str, Any]:
        tid = ticket_search.visible(number, caller.team)
        _patch_one(tid, changes, reason, caller, settings)
        return run_tx(lambda: queries.summary_of(number.strip().upper()), durable=False)

    return web.json_response(await _run(request, work))


def _merge_one(tid: int, into: str, reason: str, caller: Caller, settings: Settings) -> None:
    from helpline.workers.tickets import ticket_ops

    try:
        target = ticket_search.visible(into, caller.team)
    except TicketNotFound:
        raise Invalid([{"field": "into", "error": f"no ticket {into.strip().upper()!r}"}]) from None
    api_permissions.require(caller, "merge", tid)
    api_permissions.require(caller, "merge", target)
    _in_tx(
        lambda: ticket_ops.merge(
            ticket_ops.load(tid),
            ticket_ops.load(target),
            now=utcnow(),
            settings=settings,
            actor=caller.actor,
            reason=reason,
        )
    )
    ticket_ops.offer_queue(settings)


@routes.post(BASE + "/tickets/{number}/merge")
async def post_merge(request: web.Request) -> web.Response:
    caller, number, body, problems = await _write(request, ("into", "reason"))
    into = _text(body, "into", problems, required=True, max_len=64)
    reason = _text(body, "reason", problems, max_len=1000) if "reason" in body else ""
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)
    settings: Settings = request.app[K.SETTINGS]

    def work() -> dict[str, Any]:
        tid = ticket_search.visible(number, caller.team)
        _merge_one(tid, into or "", reason or "", caller, settings)
        return run_tx(lambda: queries.summary_of(number.strip().upper()), durable=False)

    return web.json_response(await _run(request, work))


@routes.post(BASE + "/tickets/{number}/messages/{message_id}/detach")
async def post_detach(request: web.Request) -> web.Response:
    """A message joined to this ticket as a near-duplicate becomes its own ticket (``workers/tickets/ticket_detach.py``);
    the ``merge`` permission, as a merge's undoing. 409 when the message did not join it so."""
    from helpline.workers.tickets import ticket_detach
    from helpline.workers.tickets import ticket_ops

    caller = await authorize(request, "write")
    number = request.match_info["number"]
    raw = request.match_info["message_id"]
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise error(web.HTTPNotFound, "message", "no such message")
    body = await _body(request) if request.can_read_body else {}
    problems = _unknown(body, ("reason",))
    reason = _text(body, "reason", problems, max_len=1000) if "reason" in body else ""
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)
    settings: Settings = request.app[K.SETTINGS]

    def work() -> dict[str, Any]:
        tid = ticket_search.visible(number, caller.team)
        api_permissions.require(caller, "merge", tid)
        done = _in_tx(
            lambda: ticket_detach.detach(
                ticket_ops.load(tid), int(raw), now=utcnow(), settings=settings, actor=caller.actor, reason=reason or ""
            )
        )
        ticket_ops.offer_queue(settings)
        return run_tx(
            lambda: {
                "ticket": queries.summary_of(done.number),
                "from": queries.summary_of(number.strip().upper()),
                "status_restored": done.status_restored or None,
            },
            durable=False,
        )

    return web.json_response(await _run(request, work), status=201)


def _bulk_body(body: dict[str, Any]) -> tuple[list[str], str, Any, str]:
    problems = _unknown(body, ("tickets", "action", "value", "reason"))
    numbers = body.get("tickets")
    if (
        not isinstance(numbers, list)
        or not numbers
        or len(numbers) > MAX_BULK
        or not all(isinstance(n, str) and n.strip(BLANKS) and len(n) <= 64 for n in numbers)
    ):
        problems.append({"field": "tickets", "error": f"a list of 1 to {MAX_BULK} ticket numbers"})
    action = _choice(body.get("action"), "action", BULK_ACTIONS, problems)
    value = body.get("value")
    if action == "status":
        _choice(value, "value", STATUSES, problems)
    elif action == "priority":
        _choice(value, "value", PRIORITIES, problems)
    elif action == "assign" and value is not None:
        _text(body, "value", problems, max_len=254)
    elif action in ("merge", "transfer"):
        _text(body, "value", problems, required=True, max_len=64)
    reason = _text(body, "reason", problems, max_len=1000) if "reason" in body else ""
    if problems:
        raise Invalid(problems)
    return [n.strip(BLANKS).upper() for n in numbers], action or "", value, reason or ""


@routes.post(f"{BASE}/tickets/bulk")
async def post_bulk(request: web.Request) -> web.Response:
    """One transaction per ticket: a refusal for one leaves the others changed, each reported."""
    caller = await authorize(request, "admin")
    body = await _body(request)
    try:
        numbers, action, value, reason = _bulk_body(body)
    except Invalid as exc:
        raise errors(web.HTTPUnprocessableEntity, exc.items) from None
    settings: Settings = request.app[K.SETTINGS]
    field = {"assign": "assignee", "status": "status", "priority": "priority", "transfer": "team"}.get(action)

    def one(number: str) -> dict[str, Any]:
        try:
            tid = ticket_search.visible(number, caller.team)
            if action == "merge":
                _merge_one(tid, value, reason, caller, settings)
            else:
                _patch_one(tid, {field: value}, reason, caller, settings)
            t = run_tx(lambda: queries.summary_of(number), durable=False)
            return {
                "ticket": number,
                "ok": True,
                "status": t["status"],
                "priority": t["priority"],
                "assignee": t["assignee"],
                "team": t["team"],
            }
        except TicketNotFound as exc:
            return {"ticket": number, "ok": False, "code": 404, "error": str(exc)}
        except Invalid as exc:
            return {"ticket": number, "ok": False, "code": 422, "error": str(exc)}
        except (InvalidTransition, _ticket_op_error()) as exc:
            return {"ticket": number, "ok": False, "code": 409, "error": str(exc)}
        except api_permissions.PermissionDenied as exc:
            return {"ticket": number, "ok": False, "code": 403, "error": str(exc)}

    def work() -> list[dict[str, Any]]:
        return [one(n) for n in dict.fromkeys(numbers)]

    results = await _run(request, work)
    log.info(
        "event=api_bulk key_id=%s action=%s tickets=%d refused=%d",
        caller.key_id,
        action,
        len(results),
        sum(1 for r in results if not r["ok"]),
    )
    return web.json_response({"results": results})


@routes.get(f"{BASE}/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


def install(app: web.Application) -> None:
    """Add the ticket API's routes (always on: without a key every request gets 401)."""
    if K.DELIVER_OUTBOX not in app:  # tests put their own hand here
        app[K.DELIVER_OUTBOX] = _queue_deliver
    app.router.add_routes(routes)
