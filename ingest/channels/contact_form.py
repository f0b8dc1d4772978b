"""The public contact form: ``GET /contact`` serves it, ``POST /contact`` takes it in.

No API key lives in a browser, so the form has its own handler and its own
defences, checked in this order: a per-client-address limit counted in the
database (it holds across ingest daemons; behind a reverse proxy the address
comes from ``X-Forwarded-For`` of ``HELPLINE_HTTP_TRUSTED_PROXIES`` only), a
signed expiring CSRF token bound to a cookie (``ingest/http/csrf.py``), and a
honeypot field: a filled one gets the same "thank you" page a person gets, so a
bot learns nothing, and nothing is stored.

A good post takes the durable path every HTTP channel shares
(``intake.accept_request``, channel ``form``): the row is committed (or
spooled) before the visitor sees "thank you". The ticket itself is made by a
worker a moment later, so the answer waits up to
``HELPLINE_CONTACT_TICKET_WAIT_S`` for its number and otherwise says the number
comes by email (the acknowledgement, which repeats nothing from the form: the
address typed in is nobody's proof of ownership). The CSRF nonce is the
message's external id, so sending the same page twice (a double click, a
reload) is one message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Callable

from aiohttp import web

from helpline.store.inbound import intake_rows
from helpline.store.channels import webhook_state
from helpline.store.config import ConfigError, Settings
from helpline.store.db import UNAVAILABLE, DatabaseUnavailable
from helpline.store.envelope import Attachment, Envelope, Sender

from helpline.ingest.channels import contact_page
from helpline.ingest.http import csrf, form_data
from helpline.ingest.http.client_address import client_address
from helpline.ingest import metrics
from helpline.ingest.intake import Rejected, TemporaryIntakeError
from helpline.ingest.channels.webhook_message import EMAIL_RE
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")

KIND = "form"
CHANNEL = "form"
PATH = "/contact"
MAX_FILES = 5
MAX_MESSAGE_CHARS = 20_000
_UNAVAILABLE = (DatabaseUnavailable, *UNAVAILABLE)


# ---- the parser (pure) ---------------------------------------------------------------
def validate(form: form_data.FormData) -> dict[str, str]:
    """field -> what is wrong, in words for the visitor."""
    errors: dict[str, str] = {}
    email = form.get("email").strip()
    if not email:
        errors["email"] = "Enter your email address, so we can answer you."
    elif len(email) > 254 or not EMAIL_RE.match(email) or ".." in email:
        errors["email"] = "Enter an email address like name@example.com."
    if len(form.get("name")) > 200:
        errors["name"] = "Your name can be at most 200 characters long."
    subject = " ".join(form.get("subject").split())
    if not subject:
        errors["subject"] = "Enter a subject."
    elif len(subject) > 200:
        errors["subject"] = "The subject can be at most 200 characters long."
    text = form.get("message").strip()
    if not text:
        errors["message"] = "Enter your message."
    elif len(text) > MAX_MESSAGE_CHARS:
        errors["message"] = f"The message can be at most {MAX_MESSAGE_CHARS} characters long."
    if len([f for f in form.files if f.field == "attachments"]) > MAX_FILES:
        errors["attachments"] = f"Attach at most {MAX_FILES} files."
    return errors


def build(raw: bytes, meta: dict[str, Any], put_blob: Callable[[bytes], str]) -> Envelope:
    """The envelope of one contact form post (raises ``Rejected`` with field errors)."""
    try:
        form = form_data.parse(raw, str(meta.get("content_type") or ""), max_files=MAX_FILES + 1)
    except form_data.FormDataError as exc:
        raise Rejected(f"not a contact form post: {exc}", [{"field": "body", "error": str(exc)}]) from exc
    errors = validate(form)
    if errors:
        raise Rejected("the form has errors", [{"field": f, "error": e} for f, e in errors.items()])
    files = [f for f in form.files if f.field == "attachments"]
    attachments = [
        Attachment(
            filename=f.filename,
            content_type=f.content_type,
            size=len(f.data),
            sha256=hashlib.sha256(f.data).hexdigest(),
            blob_key=put_blob(f.data),
        )
        for f in files
    ]
    name = " ".join(form.get("name").split())
    email = form.get("email").strip().lower()
    subject = " ".join(form.get("subject").split())
    text = form.get("message").strip()
    content = "\x00".join([name, email, subject, text, *(a.sha256 for a in attachments)])
    return Envelope(
        channel=CHANNEL,
        external_id=f"form:{meta.get('nonce') or hashlib.sha256(raw).hexdigest()}",
        received_at=str(meta["received_at"]),
        sender=Sender(address=email, name=name, kind="email"),
        subject=subject,
        text=text,
        full_text=text,
        attachments=attachments,
        metadata={"remote": str(meta.get("remote") or "")},
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )


# ---- the handlers ------------------------------------------------------------------------


def _html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'",
            **(headers or {}),
        },
    )


def _fresh_form(request: web.Request, status: int = 200, **kw: Any) -> web.Response:
    settings: Settings = request.app[K.SETTINGS]
    token, nonce = csrf.issue(settings.secret_key, time.time())
    response = _html(contact_page.form_page(token, **kw), status)
    response.set_cookie(
        csrf.COOKIE,
        nonce,
        max_age=csrf.TTL_S,
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=settings.public_url.startswith("https://"),
    )
    return response


async def get_form(request: web.Request) -> web.Response:
    return _fresh_form(request)


async def _wait_for_ticket(request: web.Request, inbound_id: int, wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            number = await request.app[K.RUN_BLOCKING](intake_rows.ticket_number_of, inbound_id)
        except _UNAVAILABLE:
            return ""
        if number or time.monotonic() >= deadline:
            return number
        await asyncio.sleep(0.2)


async def post_form(request: web.Request) -> web.Response:
    settings: Settings = request.app[K.SETTINGS]
    run = request.app[K.RUN_BLOCKING]
    remote = client_address(request, settings.http_trusted_proxies)
    too_large = contact_page.problem_page(
        "Message too large", "The message and its attachments are too large. Please send smaller files."
    )
    if (request.content_length or 0) > settings.max_message_bytes:
        metrics.INBOUND.labels(CHANNEL, "too_large").inc()
        return _html(too_large, 413)
    try:
        verdict = await run(lambda: webhook_state.admit(f"form:{remote}", settings.contact_rate_per_hour, 3600))
    except _UNAVAILABLE:
        verdict = "unchecked"
    if verdict == "rate_limited":
        metrics.INBOUND.labels(CHANNEL, "rate_limited").inc()
        log.warning("event=contact_rate_limited remote=%s", remote)
        return _html(
            contact_page.problem_page(
                "Too many messages",
                "You have sent many messages in a short time. Please try again in an hour, or write to us by email.",
            ),
            429,
            {"Retry-After": "3600"},
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        metrics.INBOUND.labels(CHANNEL, "too_large").inc()
        return _html(too_large, 413)
    ctype = request.headers.get("Content-Type", "")
    try:
        form = form_data.parse(raw, ctype, max_files=MAX_FILES + 1)
    except form_data.FormDataError:
        metrics.INBOUND.labels(CHANNEL, "rejected").inc()
        return _fresh_form(request, 400, notice="The form could not be read. Please fill it in again.")
    values = {k: form.get(k) for k in ("name", "email", "subject", "message")}
    token = form.get("csrf")
    why = csrf.problem(settings.secret_key, token, request.cookies.get(csrf.COOKIE, ""), time.time())
    if why:
        metrics.INBOUND.labels(CHANNEL, "forbidden").inc()
        log.warning("event=contact_refused reason=csrf_%s remote=%s", why, remote)
        notice = (
            "This page has expired. Please check your message and send it again."
            if why == "expired"
            else "Your message could not be sent from this page. Please check it and send it again "
            "(your browser must accept cookies from this site)."
        )
        return _fresh_form(request, 403, values=values, notice=notice)
    if form.get(contact_page.HONEYPOT):
        metrics.INBOUND.labels(CHANNEL, "honeypot").inc()
        log.info("event=contact_honeypot remote=%s", remote)
        return _html(contact_page.thanks_page())
    meta = {"content_type": ctype, "nonce": csrf.nonce_of(token), "remote": remote}
    try:
        result = await run(request.app[K.INTAKE].accept_request, KIND, raw, meta)
    except Rejected as exc:
        metrics.INBOUND.labels(CHANNEL, "rejected").inc()
        errors = {e["field"]: e["error"] for e in exc.errors} or {"form": str(exc)}
        return _html(contact_page.form_page(token, values=values, errors=errors), 400)
    except TemporaryIntakeError as exc:
        metrics.INBOUND.labels(CHANNEL, "temp_failed").inc()
        log.error("event=contact_not_accepted error=%s", exc)
        return _html(
            contact_page.problem_page(
                "Please try again", "We could not take your message just now. Please send it again in a few minutes."
            ),
            503,
            {"Retry-After": "120"},
        )
    metrics.INBOUND.labels(CHANNEL, result.status).inc()
    log.info("event=contact_accepted status=%s inbound=%s remote=%s", result.status, result.inbound_id or "", remote)
    number = ""
    if result.inbound_id is not None and settings.contact_ticket_wait_s > 0:
        number = await _wait_for_ticket(request, result.inbound_id, settings.contact_ticket_wait_s)
    return _html(contact_page.thanks_page(number))


def register_builders(intake: Any) -> None:
    """The parser the spool drain needs too (the scheduler drains without the HTTP app)."""
    intake.register(KIND, build)


def install(app: web.Application) -> None:
    """Add ``/contact`` unless ``HELPLINE_CONTACT_FORM`` is off (then 404)."""
    settings: Settings = app[K.SETTINGS]
    if not settings.contact_form:
        return
    if not settings.secret_key:
        raise ConfigError(
            "the contact form needs HELPLINE_SECRET_KEY for its CSRF tokens "
            "(`helpline run`/`ingest` generate one; or set HELPLINE_CONTACT_FORM=no)"
        )
    if app[K.INTAKE] is not None:
        register_builders(app[K.INTAKE])
    app.router.add_get(PATH, get_form)
    app.router.add_post(PATH, post_form)
