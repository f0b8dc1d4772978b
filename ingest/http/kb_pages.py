"""Article pages behind signed links (``/kb/{language}/{slug}?sig=…``) and "This answered my question".

Until the help center exists, an acknowledgement's article link (deflection)
and a macro's article link open here: the article's sanitised HTML and its
images, for whoever holds the signed link. A deflection link also names the
ticket (``&t=…``, signed with the article): the page then shows a button
"This answered my question". Mail scanners fetch every link, so GET changes
nothing; only the button's POST, with the CSRF token of the page and its
``SameSite=Strict`` cookie (``ingest/csrf.py``, as the CSAT page), resolves
the ticket as self-served. A forged link is 404 and tells nothing.
"""

from __future__ import annotations

import html as htmllib
import logging
import time
from typing import Any

from aiohttp import web

from helpline.store.knowledge import kb_links
from helpline.store.config import Settings
from helpline.store.db import run_tx

from helpline.ingest.http import app_keys as K
from helpline.ingest.http import csrf
from helpline.ingest.knowledge.kb_markdown import with_image_urls

log = logging.getLogger("helpline.ingest")
PREFIX = "/kb/"
COOKIE = "helpline_kb"
_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'"


def _article(slug: str, language: str) -> Any:
    from helpline.store.knowledge import kb_state

    return run_tx(lambda: kb_state.get_article(slug, language), durable=False)


async def _verified(request: web.Request, sig: str) -> tuple[Settings, Any]:
    settings: Settings = request.app[K.SETTINGS]
    slug, language = request.match_info["slug"], request.match_info["language"]
    if not kb_links.check_article(settings.secret_key, slug, language, sig):
        raise web.HTTPNotFound(text="This link is not valid.")
    a = await request.app[K.RUN_BLOCKING](_article, slug, language)
    if a is None:
        raise web.HTTPNotFound(text="This link is not valid.")
    return settings, a


def _page(
    settings: Settings,
    a: Any,
    *,
    sig: str,
    ticket_token: str,
    message: str = "",
    status: int = 200,
    can_answer: bool = False,
) -> web.Response:
    base = f"{PREFIX}{a.language}/{a.slug}"
    body = (
        with_image_urls(a.html, f"{base}/images/", f"?sig={sig}")
        if a.status == "active"
        else "<p>This article is no longer available.</p>"
    )
    form, nonce = "", ""
    if can_answer and a.status == "active":
        token, nonce = csrf.issue(settings.secret_key, time.time())
        form = (
            f'<form method="post" action="{htmllib.escape(base)}/answered">'
            f'<input type="hidden" name="sig" value="{htmllib.escape(sig)}">'
            f'<input type="hidden" name="t" value="{htmllib.escape(ticket_token)}">'
            f'<input type="hidden" name="csrf" value="{htmllib.escape(token)}">'
            '<button type="submit">This answered my question</button></form>'
        )
    note = f'<p class="note"><strong>{htmllib.escape(message)}</strong></p>' if message else ""
    text = (
        f'<!doctype html><html lang="{htmllib.escape(a.language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{htmllib.escape(a.title)}'
        "</title><style>body{font-family:sans-serif;max-width:42em;margin:2em auto;padding:0 1em;line-height:1.5}"
        "img{max-width:100%}button{font-size:1.1em;padding:.5em 1em}</style></head><body>"
        f"<h1>{htmllib.escape(a.title)}</h1>{note}<article>{body}</article>{form}</body></html>"
    )
    response = web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
        },
    )
    if nonce:
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=csrf.TTL_S,
            path=PREFIX,
            httponly=True,
            samesite="Strict",
            secure=settings.public_url.startswith("https://"),
        )
    return response


def _open_ticket(ticket_id: int) -> bool:
    from helpline.store.views import queries
    from helpline.store.statuses import TicketStatus

    return run_tx(lambda: queries.ticket_status(ticket_id), durable=False) in TicketStatus.ACTIVE


async def show(request: web.Request) -> web.Response:
    sig = request.query.get("sig", "")
    settings, a = await _verified(request, sig)
    token = request.query.get("t", "")
    tid = kb_links.check_ticket(settings.secret_key, token, a.slug, a.language) if token else None
    can = tid is not None and await request.app[K.RUN_BLOCKING](_open_ticket, tid)
    return _page(
        settings,
        a,
        sig=sig,
        ticket_token=token if can else "",
        can_answer=can,
        status=200 if a.status == "active" else 410,
    )


async def image(request: web.Request) -> web.Response:
    from helpline.store.storage import blobs
    from helpline.store.knowledge import kb_state

    settings, a = await _verified(request, request.query.get("sig", ""))
    sha = request.match_info["sha"]

    def read() -> tuple[bytes, str] | None:
        im = run_tx(lambda: kb_state.image(a.id, sha), durable=False)
        if im is None:
            return None
        return blobs.open_store(settings.blob_backend, settings.effective_blob_dir).get(im.blob_key), im.content_type

    got = await request.app[K.RUN_BLOCKING](read)
    if got is None:
        raise web.HTTPNotFound(text="No such image.")
    return web.Response(
        body=got[0],
        content_type=got[1],
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "private, max-age=86400",
        },
    )


def _self_served(ticket_id: int, slug: str, language: str, settings: Settings) -> str:
    """Resolve the ticket as answered by the article; "resolved", or why not ("closed")."""
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import ticket_ops
    from helpline.store.inbound import audit_events

    def tx() -> str:
        with audit_events.buffered_events():
            t = ticket_ops.load(ticket_id)
            if t.status not in ("new", "open", "in_progress", "waiting_customer"):
                return "closed"
            now = utcnow()
            ticket_ops.change_status(
                t,
                "resolved",
                now=now,
                settings=settings,
                actor="customer",
                reason=f"self-served: article {slug} ({language})",
            )
            audit_events.event(
                ticket_id, "self_served", {"slug": slug, "language": language}, actor="customer", now=now
            )
            return "resolved"

    return run_tx(tx)


async def answered(request: web.Request) -> web.Response:
    form = await request.post()
    sig, token = str(form.get("sig", "")), str(form.get("t", ""))
    settings, a = await _verified(request, sig)
    tid = kb_links.check_ticket(settings.secret_key, token, a.slug, a.language)
    if tid is None:
        raise web.HTTPNotFound(text="This link is not valid.")
    why = csrf.problem(settings.secret_key, str(form.get("csrf", "")), request.cookies.get(COOKIE, ""), time.time())
    if why:
        log.info("event=kb_self_served_refused ticket=%d reason=csrf_%s", tid, why)
        return _page(
            settings,
            a,
            sig=sig,
            ticket_token=token,
            can_answer=True,
            status=403,
            message="Please press the button again on this page (your browser must accept cookies from this site).",
        )
    result = await request.app[K.RUN_BLOCKING](_self_served, tid, a.slug, a.language, settings)
    log.info("event=kb_self_served ticket=%d slug=%s result=%s", tid, a.slug, result)
    msg = (
        "Thank you! We have closed your request. Reply to our email if you need anything else."
        if result == "resolved"
        else "Your request was already closed."
    )
    return _page(settings, a, sig=sig, ticket_token="", message=msg)


def install(app: web.Application) -> None:
    """Serve the article pages whenever links can be signed (HELPLINE_SECRET_KEY is set)."""
    if not app[K.SETTINGS].secret_key:
        return
    app.router.add_get(PREFIX + "{language:[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?}/{slug}", show)
    app.router.add_get(PREFIX + "{language:[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?}/{slug}/images/{sha:[0-9a-f]{64}}", image)
    app.router.add_post(PREFIX + "{language:[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?}/{slug}/answered", answered)
