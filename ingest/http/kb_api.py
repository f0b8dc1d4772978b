"""The knowledge base over the API (``/api/v1/kb/…``) and a ticket's suggested answers.

Reads need the ``read`` scope, changes ``write`` (as the ticket API). A team-bound
key sees articles without a team and its own team's. ``PUT`` takes one article
file as ``kb sync`` reads it (``text/markdown``: front matter and body; the
URL's slug wins when the front matter names none); images by relative path
need the folder, so they are for ``kb sync`` only. ``DELETE`` retires.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from helpline.store.db import run_tx

from helpline.ingest.http.api_auth import Caller, authorize, error
from helpline.ingest.knowledge.kb_files import SLUG, KbFileError
from helpline.ingest.http.ticket_api import BASE, _run

MAX_ARTICLE_BYTES = 1 << 20
routes = web.RouteTableDef()  # each handler's route stands above it


def _dumps(o: Any) -> str:
    return json.dumps(o, default=str, ensure_ascii=False)


def _visible(a: Any, caller: Caller) -> bool:
    return caller.team is None or a.team in (None, "", caller.team)


@routes.get(f"{BASE}/kb/articles")
async def list_articles(request: web.Request) -> web.Response:
    from helpline.store.knowledge import kb_state

    caller = await authorize(request, "read")
    include = request.query.get("all") in ("1", "true", "yes")
    language = request.query.get("language") or None
    rows = await _run(
        request,
        lambda: run_tx(
            lambda: [
                kb_state.article_dict(a)
                for a in kb_state.list_articles(include_retired=include, language=language)
                if _visible(a, caller)
            ],
            durable=False,
        ),
    )
    return web.json_response({"articles": rows}, dumps=_dumps)


def _article(slug: str, language: str | None, caller: Caller, image_base: str) -> dict[str, Any]:
    from helpline.store.knowledge import kb_state

    from helpline.ingest.knowledge.kb_markdown import with_image_urls

    a = kb_state.get_article(slug, language)
    if a is None or not _visible(a, caller):
        raise LookupError(f"no article {slug!r}" + (f" in {language!r}" if language else ""))
    out = kb_state.article_dict(a, with_body=True)
    out["html"] = with_image_urls(a.html, f"{image_base}{a.slug}/images/")
    out["previous_versions"] = [v.version for v in kb_state.versions(a.id)]
    return out


@routes.get(BASE + "/kb/articles/{slug}")
async def get_article(request: web.Request) -> web.Response:
    caller = await authorize(request, "read")
    slug, language = request.match_info["slug"], request.query.get("language") or None
    try:
        out = await _run(
            request, lambda: run_tx(lambda: _article(slug, language, caller, f"{BASE}/kb/articles/"), durable=False)
        )
    except LookupError as exc:
        raise error(web.HTTPNotFound, "slug", str(exc)) from None
    return web.json_response(out, dumps=_dumps)


@routes.get(BASE + "/kb/articles/{slug}/images/{sha:[0-9a-f]{64}}")
async def get_image(request: web.Request) -> web.Response:
    from helpline.store.storage import blobs
    from helpline.store.knowledge import kb_state

    caller = await authorize(request, "read")
    slug, sha = request.match_info["slug"], request.match_info["sha"]
    from helpline.ingest.http import app_keys as K

    s = request.app[K.SETTINGS]

    def read() -> tuple[bytes, str] | None:
        a = kb_state.get_article(slug, request.query.get("language") or None)
        if a is None or not _visible(a, caller):
            return None
        im = kb_state.image(a.id, sha)
        if im is None:
            return None
        return blobs.open_store(s.blob_backend, s.effective_blob_dir).get(im.blob_key), im.content_type

    got = await _run(request, lambda: run_tx(read, durable=False))
    if got is None:
        raise error(web.HTTPNotFound, "image", "no such image of this article")
    data, ctype = got
    return web.Response(
        body=data,
        content_type=ctype,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "private, max-age=86400",
        },
    )


@routes.put(BASE + "/kb/articles/{slug}")
async def put_article(request: web.Request) -> web.Response:
    from helpline.store.storage import blobs
    from helpline.store.knowledge import kb_state
    from helpline.store.clock import utcnow

    from helpline.ingest.http import app_keys as K
    from helpline.ingest.knowledge.kb_files import read_article
    from helpline.ingest.knowledge.kb_sync import hand_to_search

    caller = await authorize(request, "write")
    slug = request.match_info["slug"]
    if not SLUG.fullmatch(slug):
        raise error(web.HTTPUnprocessableEntity, "slug", f"a slug matches {SLUG.pattern}")
    if request.content_type not in ("text/markdown", "text/plain"):
        raise error(web.HTTPUnsupportedMediaType, "content-type", "send the article file as text/markdown")
    if (request.content_length or 0) > MAX_ARTICLE_BYTES:
        raise _too_large()
    raw = b""
    while len(raw) <= MAX_ARTICLE_BYTES:  # a read returns what has arrived: read until the end or the limit
        chunk = await request.content.read(MAX_ARTICLE_BYTES + 1 - len(raw))
        if not chunk:
            break
        raw += chunk
    if len(raw) > MAX_ARTICLE_BYTES:
        raise _too_large()
    s = request.app[K.SETTINGS]

    def work() -> tuple[str, dict[str, Any]]:
        with tempfile.TemporaryDirectory() as tmp:  # only this file: relative images cannot resolve
            f = Path(tmp) / f"{slug}.md"
            f.write_bytes(raw)
            a = read_article(f, Path(tmp), blobs.open_store(s.blob_backend, s.effective_blob_dir).put)
        if a.slug != slug:
            raise KbFileError(f"{slug}.md", None, f"the front matter's slug {a.slug!r} is not the URL's {slug!r}")
        if caller.team is not None and a.team != caller.team:
            raise KbFileError(
                f"{slug}.md", None, f"a key of team {caller.team!r} writes only articles with team: {caller.team}"
            )

        def tx() -> tuple[str, dict[str, Any]]:
            existing = kb_state.get_article(a.slug, a.language)
            if existing is not None and not _visible(existing, caller):
                raise KbFileError(f"{slug}.md", None, "this article belongs to another team")
            outcome, aid = kb_state.upsert_article(a, utcnow())
            if outcome != "unchanged":
                hand_to_search(a, retired=False)
            return outcome, kb_state.article_dict(kb_state.get_article_by_id(aid))

        return run_tx(tx)

    try:
        outcome, art = await _run(request, work)
    except KbFileError as exc:
        raise error(web.HTTPUnprocessableEntity, "body", str(exc), line=exc.line) from None
    return web.json_response(
        {"outcome": outcome, "article": art}, status=201 if outcome == "added" else 200, dumps=_dumps
    )


def _too_large() -> web.HTTPException:
    body = {"errors": [{"field": "body", "error": f"an article is at most {MAX_ARTICLE_BYTES} bytes"}]}
    return web.HTTPRequestEntityTooLarge(
        max_size=MAX_ARTICLE_BYTES,
        actual_size=MAX_ARTICLE_BYTES + 1,
        text=json.dumps(body),
        content_type="application/json",
    )


@routes.delete(BASE + "/kb/articles/{slug}")
async def delete_article(request: web.Request) -> web.Response:
    from helpline.store.knowledge import kb_state
    from helpline.store.clock import utcnow

    from helpline.ingest.knowledge.kb_sync import hand_to_search

    caller = await authorize(request, "write")
    slug, language = request.match_info["slug"], request.query.get("language") or "en"

    def tx() -> bool:
        a = kb_state.get_article(slug, language)
        if a is None or not _visible(a, caller) or a.status != kb_state.ACTIVE:
            return False
        keep = {(r.slug, r.language) for r in kb_state.list_articles() if r.id != a.id}
        kb_state.retire_missing(keep, utcnow())
        hand_to_search(a, retired=True)
        return True

    if not await _run(request, lambda: run_tx(tx)):
        raise error(web.HTTPNotFound, "slug", f"no active article {slug!r} in {language!r}")
    return web.json_response({"retired": slug, "language": language})


@routes.get(f"{BASE}/kb/suggest")
async def suggest(request: web.Request) -> web.Response:
    caller = await authorize(request, "read")
    text = request.query.get("text", "")
    if not text.strip() or len(text) > 20_000:
        raise error(web.HTTPUnprocessableEntity, "text", "give ?text= (1 to 20,000 characters)")
    from helpline.workers.jobs.kb_suggestions import suggester

    s = await _run(request, suggester)
    return web.json_response(s.suggest(text, request.query.get("language") or None, team=caller.team), dumps=_dumps)


@routes.get(BASE + "/tickets/{number}/suggestions")
async def ticket_suggestions(request: web.Request) -> web.Response:
    """The ticket's suggested answers: those the actor stored, or ranked now (and stored) when none were."""
    from helpline.store.knowledge import kb_state
    from helpline.store.views import ticket_search
    from helpline.workers.jobs import kb_suggestions

    from helpline.ingest.http import app_keys as K

    caller = await authorize(request, "read")
    number = request.match_info["number"]
    s = request.app[K.SETTINGS]

    def work() -> dict[str, Any]:
        tid = run_tx(lambda: ticket_search.visible(number, caller.team), durable=False)
        rows = run_tx(lambda: kb_state.suggestions_of(tid), durable=False)
        if not rows:
            found = kb_suggestions.rank(tid)
            if found:
                run_tx(lambda: kb_suggestions.store(tid, found, s, post=False))
            rows = run_tx(lambda: kb_state.suggestions_of(tid), durable=False)
        return run_tx(lambda: _suggestions_body(rows), durable=False)

    return web.json_response(await _run(request, work), dumps=_dumps)


@routes.post(BASE + "/tickets/{number}/suggestions/{sid}/{action:send|dismiss}")
async def post_suggestion(request: web.Request) -> web.Response:
    """``send`` an article suggestion as the reply (the API's reply path, Idempotency-Key honoured), or
    ``dismiss`` any suggestion; either is recorded with the key's name as the actor."""
    import uuid

    from helpline.store.knowledge import kb_state
    from helpline.store.views import ticket_search
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import api_ticket_ops
    from helpline.workers.jobs import kb_suggestions

    from helpline.ingest.http import app_keys as K
    from helpline.ingest.http.ticket_api import _IDEMPOTENCY, _deliver, _in_tx

    caller = await authorize(request, "write")
    number, action = request.match_info["number"], request.match_info["action"]
    try:
        sid = int(request.match_info["sid"])
    except ValueError:
        raise error(web.HTTPNotFound, "suggestion", "no such suggestion") from None
    idem = request.headers.get("Idempotency-Key", "").strip()
    if idem and not _IDEMPOTENCY.match(idem):
        raise error(web.HTTPUnprocessableEntity, "Idempotency-Key", "1 to 200 printable ASCII characters")
    s = request.app[K.SETTINGS]

    def work() -> dict[str, Any]:
        tid = run_tx(lambda: ticket_search.visible(number, caller.team), durable=False)
        got = run_tx(lambda: kb_state.get_suggestion(sid), durable=False)
        if got is None or got.ticket_id != tid:
            raise LookupError("no such suggestion on this ticket")
        if action == "dismiss":
            done = run_tx(lambda: kb_state.mark_suggestion(sid, "dismissed", caller.actor, utcnow()))
            return {"action": "dismissed", "recorded": done, "outbox": []}
        if got.kind != "article":
            raise ValueError(
                "a similar ticket's reply was written for another customer: edit it and send it "
                "as your own reply (POST /tickets/{number}/replies)"
            )
        text = run_tx(lambda: kb_suggestions.answer_text(sid), durable=False)[2]
        key = f"api-suggestion:{sid}:{idem or uuid.uuid4().hex}"

        def tx() -> Any:
            r = api_ticket_ops.reply(
                tid, text, author=caller.name, actor=caller.actor, key=key, settings=s, now=utcnow()
            )
            if not r.repeated:
                kb_state.mark_suggestion(sid, "sent", caller.actor, utcnow())
            return r

        r = _in_tx(tx)
        return {
            "action": "sent",
            "recorded": not r.repeated,
            "outbox": r.outbox_ids,
            "message": {"id": r.message_id, "channel": r.channel, "recipient": r.recipient},
        }

    try:
        out = await _run(request, work)
    except LookupError as exc:
        raise error(web.HTTPNotFound, "suggestion", str(exc)) from None
    except ValueError as exc:
        if type(exc) is not ValueError:
            raise
        raise error(web.HTTPConflict, "suggestion", str(exc)) from None
    _deliver(request, out.pop("outbox"))
    return web.json_response(out, dumps=_dumps)


def _suggestions_body(rows: list) -> dict[str, Any]:
    from helpline.store.knowledge import kb_state

    arts, tickets = [], []
    for r in rows:
        view = kb_state.suggestion_view(r.id) or {}
        item = {"id": r.id, "score": r.score, "why": r.why, "action": r.action or None}
        if r.kind == "article":
            arts.append({**item, "slug": r.ref, "language": r.language, "title": view.get("title", r.ref)})
        else:
            excerpt = " ".join((view.get("excerpt") or "").split())[:300]
            tickets.append({**item, "number": r.ref, "reply_excerpt": excerpt})
    return {"articles": arts, "tickets": tickets}


@routes.get(f"{BASE}/kb/macros")
async def list_macros(request: web.Request) -> web.Response:
    from helpline.store.knowledge import kb_state

    caller = await authorize(request, "read")
    rows = await _run(
        request,
        lambda: run_tx(
            lambda: [
                {"name": r.name, "team": r.team or None, "language": r.language, "actions": r.actions, "body": r.body}
                for r in kb_state.list_macros()
                if caller.team is None or r.team in ("", caller.team)
            ],
            durable=False,
        ),
    )
    return web.json_response({"macros": rows}, dumps=_dumps)


@routes.post(BASE + "/tickets/{number}/macros/{name}")
async def post_macro(request: web.Request) -> web.Response:
    """Apply a macro: its reply through the API's reply path (Idempotency-Key honoured), its actions, audited."""
    import uuid

    from helpline.notifier.macro_render import MacroError
    from helpline.store.views import ticket_search
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import macro_ops

    from helpline.ingest.http import app_keys as K
    from helpline.ingest.http.ticket_api import _IDEMPOTENCY, _in_tx

    caller = await authorize(request, "write")
    number, name = request.match_info["number"], request.match_info["name"]
    author = caller.name
    if request.can_read_body:
        try:
            body = json.loads(await request.read() or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise error(web.HTTPBadRequest, "body", "the body is not valid JSON") from None
        if not isinstance(body, dict) or set(body) - {"author"} or not isinstance(body.get("author", ""), str):
            raise error(web.HTTPUnprocessableEntity, "body", 'the body is {} or {"author": "Agent name"}')
        author = (body.get("author") or author)[:200]
    idem = request.headers.get("Idempotency-Key", "").strip()
    if idem and not _IDEMPOTENCY.match(idem):
        raise error(web.HTTPUnprocessableEntity, "Idempotency-Key", "1 to 200 printable ASCII characters")
    s = request.app[K.SETTINGS]
    key = f"api-macro:{caller.key_id}:{name}:{idem or uuid.uuid4().hex}"

    def work() -> Any:
        from helpline.ingest.http import api_permissions

        tid = run_tx(lambda: ticket_search.visible(number, caller.team), durable=False)
        api_permissions.require(caller, "macros", tid)  # a personal key: its agent's role
        who = api_permissions.author_of(caller, author)
        return _in_tx(
            lambda: macro_ops.apply(
                tid, name, agent=who, actor=caller.actor, key=key, settings=s, now=utcnow(), via="api"
            )
        )

    try:
        done = await _run(request, work)
    except macro_ops.MacroNotFound as exc:
        raise error(web.HTTPNotFound, "name", str(exc)) from None
    except MacroError as exc:
        raise error(web.HTTPUnprocessableEntity, "macro", str(exc)) from None
    r = done.reply
    from helpline.ingest.http.ticket_api import _deliver

    _deliver(request, r.outbox_ids)
    return web.json_response(
        {
            "macro": done.name,
            "text": done.text,
            "actions": done.actions,
            "repeated": r.repeated,
            "message": {"id": r.message_id, "channel": r.channel, "recipient": r.recipient},
        },
        status=200 if r.repeated else 201,
        dumps=_dumps,
    )


def install(app: web.Application) -> None:
    app.router.add_routes(routes)
