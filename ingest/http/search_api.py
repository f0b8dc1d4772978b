"""``GET /api/v1/search?q=…`` and ``POST /api/v1/tickets/{number}/tags``.

Search takes any key with ``read``; a team-bound key sees only its team's
tickets (and articles of its team or of none). The answer is
``{"tickets": [{"number", "subject", "status", "snippet", "score"}],
"articles": [{"slug", "title", "snippet", "score"}]}``, best first; snippets are
HTML-escaped text with the matched words in ``<mark>``. A query the language
refuses is 422 with the reason (``store.search_syntax``). A search that finds
nothing is counted (``helpline search misses``).

Tags take ``write``: ``{"add": ["vip"], "remove": ["refund"]}``, answered with
the ticket's tags afterwards; audited as ``tags_changed``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from helpline.store.fulltext import search
from helpline.store.views import ticket_search
from helpline.store.db import run_tx
from helpline.store.clock import utcnow
from helpline.store.fulltext.search_syntax import MAX_LENGTH, TAG_PATTERN, QueryError, parse

from helpline.ingest.http import ticket_api as api
from helpline.ingest.http.api_auth import authorize, error, errors

log = logging.getLogger("helpline.ingest")

TAG_RE = re.compile(TAG_PATTERN)
MAX_RESULTS = 50
MAX_TAG_CHANGES = 50


def _query(query: Any) -> tuple[Any, int]:
    problems = [
        {"field": k, "error": "unknown query parameter; known: q, limit"} for k in query if k not in ("q", "limit")
    ]
    problems += [{"field": k, "error": "give it once"} for k in set(query) if len(query.getall(k)) > 1]
    raw = query.get("q")
    q = None
    if raw is None or not raw.strip():
        problems.append({"field": "q", "error": "required: the words to look for"})
    elif len(raw) > MAX_LENGTH or "\x00" in raw:
        problems.append({"field": "q", "error": f"at most {MAX_LENGTH} characters, no NUL"})
    else:
        try:
            q = parse(raw)
        except QueryError as exc:
            problems.append({"field": "q", "error": str(exc)})
    limit = 20
    if query.get("limit") is not None:
        lim = query["limit"].strip()
        if not re.fullmatch(r"[0-9]{1,3}", lim) or not 1 <= int(lim) <= MAX_RESULTS:
            problems.append({"field": "limit", "error": f"an integer from 1 to {MAX_RESULTS}"})
        else:
            limit = int(lim)
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)
    return q, limit


async def get_search(request: web.Request) -> web.Response:
    caller = await authorize(request, "read")
    q, limit = _query(request.query)
    scope = (caller.team,) if caller.team is not None else None

    def work() -> dict[str, Any]:
        res = run_tx(lambda: search.search(q, scope_teams=scope, limit=limit), durable=False)
        if not res.tickets and not res.articles:
            run_tx(lambda: search.record_miss(q.normalised(), utcnow()))
        return res.as_dict("html")

    out = await api._run(request, work)
    log.info(
        "event=api_search key_id=%s tickets=%d articles=%d", caller.key_id, len(out["tickets"]), len(out["articles"])
    )
    return web.json_response(out)


class TagConflict(Exception):
    """The ticket's tags refuse the change (too many): 409, like other refusals of a ticket's state."""


def _tag_list(body: dict[str, Any], name: str, problems: list[dict[str, str]]) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_TAG_CHANGES:
        problems.append({"field": name, "error": f"a list of at most {MAX_TAG_CHANGES} tags (strings)"})
        return []
    return value


async def post_tags(request: web.Request) -> web.Response:
    caller = await authorize(request, "write")
    number = request.match_info["number"]
    body = await api._body(request)
    problems = api._unknown(body, ("add", "remove"))
    add, remove = _tag_list(body, "add", problems), _tag_list(body, "remove", problems)
    if not problems and not add and not remove:
        problems.append({"field": "add", "error": "give tags to add or to remove"})
    for name, values in (("add", add), ("remove", remove)):
        bad = [v for v in values if not isinstance(v, str) or not TAG_RE.match(v)]
        if bad:
            problems.append(
                {
                    "field": name,
                    "error": f"{bad[0]!r} is not a tag: 1 to 63 ASCII letters, digits or "
                    "_ . - /, starting with a letter or digit",
                }
            )
    if problems:
        raise errors(web.HTTPUnprocessableEntity, problems)

    def work() -> list[str]:
        from helpline.workers.tickets import ticket_tags

        tid = ticket_search.visible(number, caller.team)
        try:
            return api._in_tx(lambda: ticket_tags.change(tid, add, remove, actor=caller.actor, now=utcnow(), via="api"))
        except ticket_tags.TooManyTags as exc:
            raise TagConflict(str(exc)) from None
        except ticket_tags.TagError as exc:
            raise api.Invalid([{"field": "add", "error": str(exc)}]) from None

    try:
        tags = await api._run(request, work)
    except TagConflict as exc:
        raise error(web.HTTPConflict, "add", str(exc)) from None
    return web.json_response({"ticket": number.strip().upper(), "tags": tags})


def install(app: web.Application) -> None:
    app.router.add_get(f"{api.BASE}/search", get_search)
    app.router.add_post(api.BASE + "/tickets/{number}/tags", post_tags)
