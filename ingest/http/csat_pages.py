"""The CSAT survey pages on the public listener: ``/csat/{token}``.

A survey email links each score 1-5 to ``/csat/TOKEN?score=N``, TOKEN being
the ticket id signed with ``HELPLINE_SECRET_KEY`` (``store.csat_state.token``).
Mail scanners and link previewers fetch every link in a message, so GET
records nothing: it shows a page with the score preselected, a comment box
and a button. Only the POST that button sends stores the answer, and only
with a CSRF token we signed whose nonce matches the page's ``SameSite=Strict``
cookie (``ingest/http/csrf.py``, as the contact form does). The answer can be
changed until the survey expires; after that both GET and POST say so.
A forged or unknown token gets 404 and tells nothing about which tickets exist.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from helpline.notifier import render
from helpline.store.tickets import csat_state
from helpline.store.views import queries
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import site_config
from helpline.store.db import run_tx
from helpline.store.clock import utcnow

from helpline.ingest import decoding
from helpline.ingest.http import csrf, form_data
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")
PREFIX = "/csat/"
COOKIE = "helpline_csat"


def _lookup(ticket_id: int) -> tuple[csat_state.Survey | None, str, str | None]:
    def tx() -> tuple[csat_state.Survey | None, str, str | None]:
        number, language = queries.number_and_language(ticket_id) or ("", None)
        return csat_state.get(ticket_id), number, language

    return run_tx(tx, durable=False)


def _record(ticket_id: int, score: int, comment: str | None) -> csat_state.Survey:
    return run_tx(lambda: csat_state.record(ticket_id, score, comment, utcnow(), via="page"))


def _page(
    settings: Settings,
    *,
    number: str,
    language: str | None,
    action: str,
    score: int | None,
    survey: csat_state.Survey,
    message: str = "",
    status: int = 200,
) -> web.Response:
    token, nonce = csrf.issue(settings.secret_key, time.time())
    now = utcnow()
    html = render.templates(site_config(settings).templates_dir).render(
        "csat_page.html",
        language,
        lang=(language or "en"),
        ticket_number=number,
        action=action,
        csrf=token,
        score=score,
        comment=survey.comment,
        answered=survey.score,
        message=message,
        closed=not survey.open_at(now),
        expires=survey.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
    response = web.Response(
        text=html,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        },
    )
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


def _score(value: str) -> int | None:
    return int(value) if value in ("1", "2", "3", "4", "5") else None


async def _survey_of(request: web.Request) -> tuple[int, csat_state.Survey, str, str | None]:
    settings: Settings = request.app[K.SETTINGS]
    ticket_id = csat_state.ticket_from_token(settings.secret_key, request.match_info["token"])
    if ticket_id is None:
        raise web.HTTPNotFound(text="This survey link is not valid.")
    survey, number, language = await request.app[K.RUN_BLOCKING](_lookup, ticket_id)
    if survey is None:
        raise web.HTTPNotFound(text="This survey link is not valid.")
    return ticket_id, survey, number, language


async def show(request: web.Request) -> web.Response:
    settings: Settings = request.app[K.SETTINGS]
    _, survey, number, language = await _survey_of(request)
    score = _score(request.query.get("score", "")) or survey.score
    closed = not survey.open_at(utcnow())
    return _page(
        settings,
        number=number,
        language=language,
        action=request.path,
        score=score,
        survey=survey,
        message="This survey has expired." if closed else "",
        status=410 if closed else 200,
    )


async def answer(request: web.Request) -> web.Response:
    settings: Settings = request.app[K.SETTINGS]
    ticket_id, survey, number, language = await _survey_of(request)

    def refuse(message: str, status: int) -> web.Response:
        """The survey page again, without a chosen score, saying why the rating was not taken."""
        return _page(
            settings,
            number=number,
            language=language,
            action=request.path,
            score=None,
            survey=survey,
            message=message,
            status=status,
        )

    try:
        form = form_data.read_form(await request.read(), request.headers.get("Content-Type", ""))
    except decoding.BodyError as exc:
        return refuse(f"The form could not be read ({exc.reason}). Please send your rating again.", 400)
    if not survey.open_at(utcnow()):
        return refuse("This survey has expired.", 410)
    why = csrf.problem(settings.secret_key, str(form.get("csrf", "")), request.cookies.get(COOKIE, ""), time.time())
    if why:
        log.info("event=csat_refused ticket=%d reason=csrf_%s", ticket_id, why)
        return refuse(
            "Please send your rating again from this page (your browser must accept cookies from this site).", 403
        )
    score = _score(str(form.get("score", "")))
    if score is None:
        return refuse("Please choose a rating from 1 to 5.", 400)
    try:
        comment = form.get("comment")  # absent keeps the earlier comment; an emptied box clears it
        survey = await request.app[K.RUN_BLOCKING](_record, ticket_id, score, None if comment is None else str(comment))
    except csat_state.SurveyClosed:
        return refuse("This survey has expired.", 410)
    log.info("event=csat_answered ticket=%d score=%d via=page", ticket_id, score)
    return _page(
        settings,
        number=number,
        language=language,
        action=request.path,
        score=survey.score,
        survey=survey,
        message="Thank you! Your rating has been recorded.",
    )


def install(app: web.Application) -> None:
    """Serve the survey pages whenever links can be signed (HELPLINE_SECRET_KEY is set)."""
    if not app[K.SETTINGS].secret_key:
        return
    app.router.add_get(PREFIX + "{token}", show)
    app.router.add_post(PREFIX + "{token}", answer)
