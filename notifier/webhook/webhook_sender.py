"""Outbound webhooks: POST a ticket event to its source's callback URL, signed.

The request is signed the way sources sign theirs (``store.webhook_signing``):
``X-Helpline-Timestamp`` and ``X-Helpline-Signature: sha256=<hex HMAC(secret,
timestamp + "." + body)>`` with the source's newest secret, plus
``X-Helpline-Event-Id`` (the same on every retry) and ``X-Helpline-Event``.
The URL and secret are looked up when sending, so a changed setting applies to
events still waiting.

Answers: 2xx is delivered; 408, 429 and 5xx, timeouts and network errors are
temporary (retried with back-off by the outbox, or after the receiver's
``Retry-After`` seconds); any other status, a redirect
included, is permanent (the receiver would answer the same again). After a
network failure a receiver is left alone for ``PAUSE_AFTER_NETWORK_ERROR_S``,
so its backlog does not hold the delivery loop for a timeout per event.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from helpline.store.privacy import pii
from helpline.store.config import Settings
from helpline.store.channels.webhook_signing import parse_callbacks, parse_sources, signature

from helpline.notifier.errors import PermanentFailure, TemporaryFailure
from helpline.notifier.logkv import line, log

PAUSE_AFTER_NETWORK_ERROR_S = 30.0
USER_AGENT = "Helpline-Webhooks/1"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After: N`` answer (capped at an hour); None for anything else."""
    value = (value or "").strip()
    return min(float(value), 3600.0) if value.isdigit() else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a redirect is answered as an error
        return None


class WebhookSender:
    channel = "webhook"
    unconfigured_hint = "set HELPLINE_WEBHOOK_CALLBACKS (NAME=URL, the source's secret in HELPLINE_WEBHOOK_SOURCES)"

    def __init__(self, settings: Settings) -> None:
        self._mask, self._tokens = settings.pii_mask_webhooks, settings.pii_mask_tokens  # HELPLINE_PII_MASK_*
        self._sources = parse_sources(settings.webhook_sources)
        self._callbacks = parse_callbacks(settings.webhook_callbacks, self._sources)
        self._timeout = settings.webhook_timeout_s
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._paused: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the secrets
        return f"WebhookSender(callbacks={sorted(self._callbacks)})"

    @property
    def configured(self) -> bool:
        return bool(self._callbacks)

    def send(self, payload: dict[str, Any]) -> str:
        source = str(payload.get("source") or "")
        url = self._callbacks.get(source)
        if not url:
            raise PermanentFailure(f"source {source!r} has no callback in HELPLINE_WEBHOOK_CALLBACKS any more")
        with self._lock:
            paused_until = self._paused.get(url, 0.0)
        if paused_until > time.monotonic():
            raise TemporaryFailure(f"callback of source {source!r} was unreachable moments ago; will retry")
        body = json.dumps(
            masked_body(payload["body"], self._mask, self._tokens),
            separators=(",", ":"),
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Helpline-Source": source,
                "X-Helpline-Event": str(payload.get("type") or ""),
                "X-Helpline-Event-Id": str(payload["event_id"]),
                "X-Helpline-Timestamp": stamp,
                "X-Helpline-Signature": signature(self._sources[source][0], stamp, body),
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (408, 429) or exc.code >= 500:
                raise TemporaryFailure(
                    f"callback of source {source!r} answered {exc.code}; will retry",
                    retry_after=_retry_after(exc.headers.get("Retry-After")),
                ) from None
            raise PermanentFailure(
                f"callback of source {source!r} answered {exc.code} "
                f"({'a redirect: configure the final URL' if 300 <= exc.code < 400 else 'refused'})"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            with self._lock:
                self._paused[url] = time.monotonic() + PAUSE_AFTER_NETWORK_ERROR_S
            log.warning(line("webhook_unreachable", source=source, error=type(reason).__name__))
            raise TemporaryFailure(
                f"callback of source {source!r} unreachable ({type(reason).__name__}); will retry"
            ) from None
        return f"{status} {payload['event_id']}"


def masked_body(body: dict[str, Any], mask: bool, tokens: bool = False) -> dict[str, Any]:
    """An event's body with the personal data of what customers wrote (the ticket's subject, a customer's
    message) masked, when ``HELPLINE_PII_MASK_WEBHOOKS`` asks for it. An agent's answer delivered through the
    event (a webhook customer's only way back) goes as written."""
    if not mask:
        return body
    out = dict(body)
    if isinstance(out.get("ticket"), dict):
        out["ticket"] = {**out["ticket"], "subject": pii.mask(str(out["ticket"].get("subject") or ""), tokens=tokens)}
    msg = out.get("message")
    if isinstance(msg, dict) and msg.get("author_role") != "agent":
        out["message"] = pii.mask_json(msg, tokens=tokens)
    return out
