"""A local stand-in for Twilio: its REST API, and webhooks signed the way Twilio signs them.

``FakeTwilio`` is an aiohttp server (on a thread of its own) that answers
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with the JSON of a
Message resource (``sid``, ``status``, ``num_segments``, …) after checking the
account's HTTP basic auth, and records each create call's form fields, so the
real ``twilio`` client runs unchanged against it (``HELPLINE_TWILIO_API_URL``).
A create call with ``MediaUrl`` parameters (an MMS) fetches each URL as
Twilio does (plain GET, no credentials) and keeps what it got on the record.
Tests queue error answers in Twilio's JSON error shape
(``{"code": 21610, "message": …, "more_info": …, "status": 400}``), and publish
MMS media under ``/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}/Media/{Sid}``,
which answers with a redirect to the file, as Twilio's media URLs do. DELETE of
a Message or Media resource answers 204 once and 404 after, and is recorded
in ``deleted`` (erasure removes Twilio's copies this way).

``inbound_form`` makes the parameters of Twilio's inbound-message webhook and
``sign`` the ``X-Twilio-Signature`` of a request, with the validator's own
``compute_signature`` (HMAC-SHA1 of the URL followed by the sorted parameters).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from aiohttp import web
from twilio.request_validator import RequestValidator

from .aio_server import ThreadedApp

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "12345678901234567890123456789012"
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "https://help.example.com"


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def sign(url: str, params: dict[str, str] | list[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    """``X-Twilio-Signature`` of a form POST to ``url`` (the full URL Twilio was configured with)."""
    pairs = params.items() if isinstance(params, dict) else params
    grouped: dict[str, list[str]] = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)

    class _Multi(dict):
        def getall(self, key: str) -> list[str]:
            return self[key]

    return RequestValidator(token).compute_signature(url, _Multi(grouped))


def inbound_form(
    body: str,
    *,
    sender: str = "+14155550123",
    to: str = OUR_NUMBER,
    sid: str | None = None,
    media: list[tuple[str, str]] = (),
    opt_out_type: str = "",
    segments: int = 1,
) -> dict[str, str]:
    """The form fields of Twilio's inbound-message webhook for one text (and its media: (url, type))."""
    sid = sid or new_sid("MM" if media else "SM")
    form = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "ToZip": "94105",
        "NumSegments": str(segments),
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    for i, (url, ctype) in enumerate(media):
        form[f"MediaUrl{i}"] = url
        form[f"MediaContentType{i}"] = ctype
    if opt_out_type:
        form["OptOutType"] = opt_out_type
    return form


def status_form(sid: str, status: str, *, to: str = "+14155550123", error_code: str = "") -> dict[str, str]:
    """The form fields of a message status callback."""
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": to,
        "From": OUR_NUMBER,
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        form["ErrorCode"] = error_code
    return form


def post_signed(
    base: str,
    path: str,
    form: dict[str, str],
    *,
    public_url: str = PUBLIC_URL,
    token: str = AUTH_TOKEN,
    signature: str | None = None,
    timeout: float = 30,
) -> requests.Response:
    """POST ``form`` to a Helpline listener at ``base``, signed for the public URL Twilio would have called."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
    }
    sig = sign(public_url + path, form, token) if signature is None else signature
    if sig:
        headers["X-Twilio-Signature"] = sig
    return requests.post(base + path, data=urlencode(form).encode(), headers=headers, timeout=timeout)


def gsm_segments(body: str) -> int:  # Twilio's own figure, roughly: enough for the fake's answers
    return 1 if len(body) <= 160 else math.ceil(len(body) / 153)


@dataclass
class Fetched:
    """One MediaUrl fetched the way Twilio fetches it: a plain GET, no credentials, redirects followed."""

    url: str
    status: int
    content_type: str
    headers: dict[str, str]
    data: bytes


@dataclass
class Created:
    """One Messages.json create call as the fake received it."""

    form: dict[str, str]
    sid: str
    auth: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    media: list["Fetched"] = field(default_factory=list)  # each MediaUrl as the fake fetched it, like Twilio

    @property
    def media_urls(self) -> list[str]:
        return [v for k, v in self.fields if k == "MediaUrl"]

    @property
    def to(self) -> str:
        return self.form.get("To", "")

    @property
    def body(self) -> str:
        return self.form.get("Body", "")


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.created: list[Created] = []
        self.errors: list[tuple[int, dict[str, Any], dict[str, str]]] = []  # answered in turn, before any success
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_fetches: list[str] = []
        self.deleted: list[str] = []  # "MessageSid" or "MessageSid/MediaSid", in the order DELETEs came
        self.cond = threading.Condition()
        self.url = ""

    # ---- test controls ------------------------------------------------------
    def fail_next(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answer the next create call with Twilio's JSON error shape."""
        self.errors.append(
            (
                status,
                {
                    "code": code,
                    "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status,
                },
                headers or {},
            )
        )

    def add_media(self, data: bytes, content_type: str, message_sid: str | None = None) -> str:
        """Publish an MMS media file; returns its Twilio-style URL on this server."""
        msid, media_sid = message_sid or new_sid("MM"), new_sid("ME")
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{msid}/Media/{media_sid}"
        self.media[media_sid] = (data, content_type)
        return self.url + path

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Created]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.created) >= count, timeout):
                raise TimeoutError(f"the fake Twilio API got {len(self.created)} messages, not {count}")
            return list(self.created)

    # ---- the server -----------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization", "") == expected

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )

    async def _create(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != self.account_sid or not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        fields = parse_qsl((await request.read()).decode(), keep_blank_values=True)
        form = dict(fields)
        if self.errors:
            status, payload, headers = self.errors.pop(0)
            return web.json_response(payload, status=status, headers=headers)
        if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(400, 21604 if not form.get("To") else 21603, "A 'To'/'From' phone number is required.")
        if len(form.get("Body", "")) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        media = [await self._fetch(url) for k, url in fields if k == "MediaUrl"]
        sid = new_sid("MM" if media else "SM")
        now = dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        answer = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": str(len(media)),
            "num_segments": str(gsm_segments(form.get("Body", ""))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": base + "/Media.json"},
            "to": form["To"],
            "uri": base + ".json",
        }
        with self.cond:
            self.created.append(Created(form, sid, request.headers.get("Authorization", ""), fields, media))
            self.cond.notify_all()
        return web.json_response(answer, status=201)

    @staticmethod
    async def _fetch(url: str) -> Fetched:
        """Twilio accepts the create call, then fetches each MediaUrl from the public internet; here
        the fetch is done before answering so a test sees what Twilio would have got."""
        import aiohttp

        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, timeout=aiohttp.ClientTimeout(total=15)) as resp,
            ):
                return Fetched(
                    url, resp.status, resp.headers.get("Content-Type", ""), dict(resp.headers), await resp.read()
                )
        except aiohttp.ClientError as exc:
            return Fetched(url, 0, "", {}, str(exc).encode())

    async def _media(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        media_sid = request.match_info["media"]
        self.media_fetches.append(media_sid)
        if media_sid not in self.media:
            return self._error(404, 20404, "The requested resource was not found")
        raise web.HTTPTemporaryRedirect(f"{self.url}/media-store/{media_sid}")

    async def _media_file(self, request: web.Request) -> web.Response:
        data, ctype = self.media[request.match_info["media"]]
        return web.Response(body=data, content_type=ctype)

    async def _delete(self, request: web.Request) -> web.Response:
        """DELETE of a Message or Media resource: 204, then 404 for it ever after (Twilio's answers)."""
        if request.match_info["account"] != self.account_sid or not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        msid = request.match_info["message"].removesuffix(".json")
        media = request.match_info.get("media", "").removesuffix(".json")
        ref = f"{msid}/{media}" if media else msid
        known = (media in self.media) if media else (msid[:2] in ("SM", "MM") and len(msid) == 34)
        if not known or ref in self.deleted:
            return self._error(404, 20404, "The requested resource was not found")
        with self.cond:
            self.deleted.append(ref)
            self.media.pop(media, None)
            self.cond.notify_all()
        return web.Response(status=204)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", self._media)
        app.router.add_get("/media-store/{media}", self._media_file)
        app.router.add_delete("/2010-04-01/Accounts/{account}/Messages/{message}", self._delete)
        app.router.add_delete("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", self._delete)
        return app

    def start(self) -> "FakeTwilio":
        self._server = ThreadedApp(self._app, "fake-twilio").start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        self._server.stop()
