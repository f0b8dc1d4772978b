"""Outbound SMS through the Twilio REST API, with the real ``twilio`` client.

An outbox row of channel ``sms`` carries a payload made by ``sms_payload``:
the recipient, the text, the number to send from, a reference that the status
callback URL carries back (the row's unique key), and the segment count. The
sender checks the opt-out table right before the call (a number that opted
out after the row was queued gets nothing) and that the number ever texted in
(only an agent's explicit action may text a stranger), sends up to 1,600
characters per API call (longer text in numbered parts), and returns the
message SID(s), which the outbox keeps as the row's provider id.

Failures, as the outbox wants them: Twilio error 21610 (the recipient
unsubscribed at the carrier) marks the number opted out and fails the row;
429, 5xx and network trouble are temporary; refused credentials stop the
batch (``RelayUnavailable``); any other 4xx is permanent. Once one part of a
long text went out, a failure of a later part is permanent: resending would
duplicate the parts already delivered.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from helpline.store.storage import download_links
from helpline.store.config import Settings

from helpline.notifier.sms import sms_optout
from helpline.notifier.errors import PermanentFailure, RelayUnavailable, TemporaryFailure
from helpline.notifier.logkv import line, log
from helpline.notifier.sms.sms_text import segments, split_body

OPTED_OUT_AT_CARRIER = 21610
MMS_MAX_MEDIA = 10  # Twilio: media per message
MMS_MAX_BYTES = 5 * 1024 * 1024  # Twilio: all media of one MMS together


def sms_payload(
    to: str,
    body: str,
    *,
    ref: str,
    from_number: str = "",
    in_reply_to: str = "",
    explicit: bool = False,
    media: list[int] | None = None,
) -> dict[str, Any]:
    """The outbox payload of one SMS.

    ``in_reply_to`` is the MessageSid of the customer's text it answers (an
    acknowledgement, the HELP text); ``explicit`` marks an agent's deliberate
    text to a number that never wrote. Anything else goes only to a number
    known to have texted in. ``media`` are attachment ids sent as MMS: the
    sender signs their download links when it sends, so Twilio always gets
    links that are still valid however long the row waited."""
    parts = split_body(body)
    segs = [segments(p) for p in parts]
    payload = {
        "to": to,
        "body": body,
        "from": from_number,
        "ref": ref,
        "in_reply_to": in_reply_to,
        "explicit": explicit,
        "parts": len(parts),
        "segments": sum(s.count for s in segs),
        "encoding": "UCS-2" if any(s.encoding == "UCS-2" for s in segs) else "GSM-7",
    }
    if media:
        payload["media"] = list(media)
    return payload


def make_client(settings: Settings, *, timeout: float = 30.0) -> Client:
    """A Twilio client for the account, pointed at ``HELPLINE_TWILIO_API_URL``.

    The Messages API lives on the ``api`` domain; its base URL is the one
    attribute the generated resources read, so setting it redirects every
    call of that domain (the tests' local stand-in, a regional endpoint)."""
    client = Client(
        settings.twilio_account_sid, settings.twilio_auth_token, http_client=TwilioHttpClient(timeout=timeout)
    )
    client.api.base_url = settings.twilio_api_url.rstrip("/")
    return client


def status_callback_url(settings: Settings, ref: str) -> str | None:
    """Where Twilio reports delivery; the reference finds the outbox row again."""
    if not (settings.public_url and settings.twilio_auth_token):
        return None
    return f"{settings.public_url.rstrip('/')}/twilio/status?ref={quote(ref, safe='')}"


class SmsSender:
    """Sends outbox SMS payloads through the Twilio Messages API."""

    channel = "sms"
    unconfigured_hint = (
        "set HELPLINE_TWILIO_ACCOUNT_SID, HELPLINE_TWILIO_AUTH_TOKEN and HELPLINE_TWILIO_FROM "
        "(or HELPLINE_TWILIO_MESSAGING_SERVICE_SID)"
    )

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self._timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the token
        return f"SmsSender(account={self.settings.twilio_account_sid!r}, api={self.settings.twilio_api_url!r})"

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(s.twilio_account_sid and s.twilio_auth_token and (s.twilio_from or s.twilio_messaging_service_sid))

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:  # one per thread: requests sessions are not meant to be shared
            client = self._local.client = make_client(self.settings, timeout=self._timeout)
        return client

    def send(self, payload: dict[str, Any]) -> str:
        to = str(payload.get("to") or "")
        if not to:
            raise PermanentFailure("SMS payload has no recipient number")
        if sms_optout.is_opted_out(to):
            raise PermanentFailure(f"not sent: {to} opted out of SMS (STOP); it opts in again by texting START")
        if not (payload.get("explicit") or payload.get("in_reply_to") or sms_optout.has_texted_in(to)):
            raise PermanentFailure(f"not sent: {to} never texted in; only an agent's explicit action may text it")
        route: dict[str, str] = (
            {"messaging_service_sid": self.settings.twilio_messaging_service_sid}
            if self.settings.twilio_messaging_service_sid
            else {"from_": str(payload.get("from") or self.settings.twilio_from)}
        )
        callback = status_callback_url(self.settings, str(payload.get("ref") or ""))
        if callback:
            route["status_callback"] = callback
        media = self._media_urls(payload)
        sids: list[str] = []
        parts = split_body(str(payload.get("body") or ""))
        for part in parts:
            extra: dict[str, Any] = {"media_url": media} if media and not sids else {}  # the files go with part 1
            try:
                message = self._client().messages.create(to=to, body=part, **route, **extra)
            except TwilioRestException as exc:
                raise self._classify(exc, to, sids, len(parts)) from None
            except requests.RequestException as exc:
                if sids:
                    raise self._partial(sids, len(parts), f"network error: {type(exc).__name__}") from None
                raise RelayUnavailable(
                    f"Twilio API at {self.settings.twilio_api_url} unreachable ({type(exc).__name__}); will retry"
                ) from None
            sids.append(str(message.sid))
            log.info(
                line(
                    "sms_part_sent",
                    sid=message.sid,
                    status=message.status,
                    num_segments=message.num_segments or "",
                    part=len(sids),
                    parts=len(parts),
                )
            )
        return ",".join(sids)

    def _media_urls(self, payload: dict[str, Any]) -> list[str]:
        """Signed links to the payload's attachments, for Twilio to fetch (``MediaUrl``)."""
        ids = [int(i) for i in payload.get("media") or []]
        if not ids:
            return []
        if not download_links.can_link(self.settings):
            raise PermanentFailure(
                "this MMS carries files, and Twilio fetches them from a link: set "
                "HELPLINE_PUBLIC_URL (and HELPLINE_SECRET_KEY) on the workers"
            )
        links = download_links.of_ids(self.settings, ids)
        if len(links) != len(ids):
            raise PermanentFailure(f"{len(ids) - len(links)} of the MMS's files no longer exist")
        for one in links:
            if one.withheld:  # never forwarded: the text goes without it
                log.warning(line("mms_media_withheld", attachment=one.id, reason=one.withheld))
        return [one.url for one in links if not one.withheld]

    def _classify(self, exc: TwilioRestException, to: str, sids: list[str], parts: int) -> Exception:
        code, status = exc.code, int(exc.status or 0)
        text = f"Twilio {status} error {code}: {' '.join(str(exc.msg).split())[:300]}"
        if code == OPTED_OUT_AT_CARRIER:
            sms_optout.carrier_opt_out(to, str(code))
            return PermanentFailure(f"{text}; {to} is now marked opted out")
        if status in (401, 403):
            return RelayUnavailable(f"{text}; check HELPLINE_TWILIO_ACCOUNT_SID and HELPLINE_TWILIO_AUTH_TOKEN")
        if status == 429 or status >= 500:
            return self._partial(sids, parts, text) if sids else TemporaryFailure(f"{text}; will retry with back-off")
        return self._partial(sids, parts, text) if sids else PermanentFailure(text)

    @staticmethod
    def _partial(sids: list[str], parts: int, error: str) -> PermanentFailure:
        return PermanentFailure(
            f"parts 1-{len(sids)} of {parts} were sent ({','.join(sids)}), the rest failed "
            f"({error}); not retried, to avoid sending those parts twice"
        )
