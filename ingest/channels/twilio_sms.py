"""Twilio SMS and MMS: the inbound-message webhook and the delivery status callback.

``POST /twilio/sms`` receives Twilio's form-encoded inbound-message webhook,
``POST /twilio/status`` the status callbacks of the messages Helpline sent.
Both exist only while ``HELPLINE_TWILIO_AUTH_TOKEN`` is set (404 otherwise,
never open) and both check ``X-Twilio-Signature`` with the ``twilio``
package's RequestValidator over ``HELPLINE_PUBLIC_URL`` plus the request's
path and query, the URL Twilio signed: behind a reverse proxy the scheme and
host seen here differ, so the local ones are never used. A bad or missing
signature gets 403 and nothing is stored.

An inbound message takes the durable intake path every HTTP channel shares
(``EmailIntake.accept_request``): Twilio gets its empty TwiML ``<Response/>``
only once the inbound row is committed, or, while the database is down, once
the request is in this host's spool (Twilio does not retry an inbound webhook
on a 5xx by default, so a 503 would lose the text). The MessageSid is the
external id, so a repeated webhook is a no-op. The parser (``build_envelope``)
is a pure function of the request body, as the spool requires; MMS media are
only listed here and fetched later by a worker (``notifier/sms/sms_media.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Callable
from urllib.parse import parse_qsl

import peewee as pw
from aiohttp import web
from multidict import MultiDict
from twilio import request_validator as tv

from helpline.store.config import ConfigError, Settings
from helpline.store.db import DatabaseUnavailable
from helpline.store.envelope import Envelope, Recipients, Sender, Thread

from helpline.ingest import decoding
from helpline.ingest import metrics
from helpline.ingest.intake import Rejected, TemporaryIntakeError
from helpline.ingest.channels.webhook_message import normalise_phone
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")

KIND = "twilio_sms"
CHANNEL = "sms"
MAX_REQUEST_BYTES = 64 * 1024  # a webhook is a few hundred bytes; 1,600 characters of Body at most
MAX_MEDIA = 10  # Twilio's limit per message
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


# ---- parsing (pure) ----------------------------------------------------------
def form_params(raw: bytes) -> MultiDict[str]:
    """The form fields as Twilio sent them (repeated names kept: the signature covers every value)."""
    return MultiDict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def normalise_number(raw: str) -> str | None:
    """E.164 form of a phone number (``+14155550123``), as the webhook API writes its phone
    identities, or None for what is no phone number (a short code, an alphanumeric sender)."""
    try:
        return normalise_phone(raw.strip())
    except ValueError:
        return None


def _subject(text: str, fallback: str) -> str:
    first = " ".join(text.split())
    if len(first) <= 60:
        return first or fallback
    return first[:60].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def build_envelope(raw: bytes, meta: dict[str, Any], put_blob: Callable[[bytes], str]) -> Envelope:
    """Twilio's inbound-message webhook body as an envelope (raises Rejected)."""
    form = decoding.form_fields(raw)
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    sender_raw = form.get("From", "")
    missing = [name for name, value in (("MessageSid", sid), ("From", sender_raw)) if not value]
    if missing:
        raise Rejected("not a Twilio inbound-message webhook", [{"field": f, "error": "missing"} for f in missing])
    warnings: list[str] = []
    number = normalise_number(sender_raw)
    if number is None:  # a short code or an alphanumeric sender: keep it as given
        number = sender_raw.strip()
        warnings.append("sender_not_e164")
    to = normalise_number(form.get("To", "")) or form.get("To", "").strip()
    body = form.get("Body", "")
    try:
        num_media = max(0, min(int(form.get("NumMedia") or 0), MAX_MEDIA))
    except ValueError:
        num_media = 0
    media = [
        {"url": form[f"MediaUrl{i}"], "content_type": form.get(f"MediaContentType{i}", "")}
        for i in range(num_media)
        if form.get(f"MediaUrl{i}")
    ]
    try:
        num_segments = int(form.get("NumSegments") or 1)
    except ValueError:
        num_segments = 1
    # What a re-delivery of the same message does not change: a repeat is then one row.
    content = json.dumps([sid, number, body, [m["url"] for m in media]], ensure_ascii=False)
    return Envelope(
        channel=CHANNEL,
        external_id=sid,
        received_at=meta["received_at"],
        sender=Sender(address=number, name="", kind="phone"),
        recipients=Recipients(to=[to] if to else []),
        subject=_subject(body, f"{'MMS' if media else 'SMS'} from {number}"),
        text=body.strip(),
        full_text=body,
        thread=Thread(conversation_id=number),
        warnings=warnings,
        metadata={
            "to": to,
            "num_segments": num_segments,
            "num_media": len(media),
            "media": media,
            "opt_out_type": form.get("OptOutType", "").upper(),
            "account_sid": form.get("AccountSid", ""),
            "messaging_service_sid": form.get("MessagingServiceSid", ""),
        },
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )


# ---- the signature -----------------------------------------------------------
def signed_url(settings: Settings, request: web.Request) -> str:
    """The URL Twilio signed: the configured public base plus the path and query as sent."""
    return settings.public_url.rstrip("/") + request.raw_path


def signature_ok(settings: Settings, request: web.Request, params: MultiDict[str]) -> bool:
    signature = request.headers.get(tv.SIGNATURE_HEADER, "")
    if not signature:
        return False
    algorithm = None
    choose = getattr(tv, "get_signature_algorithm", None)  # newer twilio releases: SHA-256 shared-key signatures
    if choose is not None:
        algorithm = choose(request.headers.get(getattr(tv, "SIGNATURE_SETTINGS_HEADER", ""), ""))
    validator = tv.RequestValidator(settings.twilio_auth_token)
    try:
        return validator.validate(
            signed_url(settings, request), params, signature, **({"algorithm": algorithm} if algorithm else {})
        )
    except ValueError:
        return False


async def _signed_form(request: web.Request, channel_result: str) -> tuple[MultiDict[str], bytes] | web.Response:
    """The form and raw body of a correctly signed request, or the answer to give instead."""
    settings: Settings = request.app[K.SETTINGS]
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        metrics.INBOUND.labels(CHANNEL, "too_large").inc()
        return web.Response(status=413, text="request too large\n")
    raw = await request.read()
    params = form_params(raw)
    if not signature_ok(settings, request, params):
        metrics.INBOUND.labels(CHANNEL, channel_result).inc()
        log.warning("event=twilio_signature_refused path=%s remote=%s", request.path, request.remote)
        return web.Response(status=403, text="invalid X-Twilio-Signature\n")
    return params, raw


# ---- handlers ----------------------------------------------------------------
async def inbound_sms(request: web.Request) -> web.Response:
    checked = await _signed_form(request, "forbidden")
    if isinstance(checked, web.Response):
        return checked
    intake = K.intake_of(request.app)
    try:
        result = await request.app[K.RUN_BLOCKING](intake.accept_request, KIND, checked[1], {})
    except Rejected as exc:
        metrics.INBOUND.labels(CHANNEL, "rejected").inc()
        return web.json_response({"error": str(exc), "errors": exc.errors}, status=400)
    except TemporaryIntakeError as exc:
        metrics.INBOUND.labels(CHANNEL, "temp_failed").inc()
        log.error("event=twilio_sms_not_accepted error=%s", exc)
        return web.Response(status=503, text="temporarily unable to accept the message\n")
    metrics.INBOUND.labels(CHANNEL, result.status).inc()
    return web.Response(text=TWIML_EMPTY, content_type="text/xml")


async def status_callback(request: web.Request) -> web.Response:
    checked = await _signed_form(request, "status_forbidden")
    if isinstance(checked, web.Response):
        return checked
    from helpline.notifier.sms.sms_status import record_status

    form = checked[0]
    args = (
        request.query.get("ref", ""),
        form.get("MessageSid") or form.get("SmsSid") or "",
        form.get("MessageStatus") or form.get("SmsStatus") or "",
        form.get("ErrorCode", ""),
        form.get("ErrorMessage", ""),
    )
    try:
        await request.app[K.RUN_BLOCKING](record_status, *args)
    except (DatabaseUnavailable, pw.OperationalError, pw.InterfaceError) as exc:
        # A delivery receipt is no customer message: not spooled; Twilio retries
        # it when the callback URL carries a connection override (deploy/README.md).
        log.warning("event=twilio_status_not_recorded error=%s", type(exc).__name__)
        return web.Response(status=503, text="temporarily unable to record the status\n")
    return web.Response(text=TWIML_EMPTY, content_type="text/xml")


def install(app: web.Application) -> None:
    """Add the Twilio routes to the public listener when the channel is configured."""
    settings: Settings = app[K.SETTINGS]
    if not settings.twilio_auth_token:
        return  # off: the routes do not exist (404)
    if not settings.public_url:
        raise ConfigError(
            "HELPLINE_TWILIO_AUTH_TOKEN is set but HELPLINE_PUBLIC_URL is not: Twilio signs its "
            "webhooks over the public URL it calls (e.g. https://help.example.com)"
        )
    app.router.add_post("/twilio/sms", inbound_sms)
    app.router.add_post("/twilio/status", status_callback)
