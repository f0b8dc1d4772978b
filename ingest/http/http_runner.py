"""The aiohttp runner of Helpline's listeners: malformed requests answered without echoing them.

When aiohttp's parser refuses a request (a header over 8,190 bytes, a bad
request line), it logs the exception and answers 400 with the exception's text,
which quotes the first hundred bytes of the offending line: an over-long
``Authorization: Bearer <key>`` header puts the key in the log and sends it
back. Here the answer and the log line name only the kind of problem.

aiohttp has no public hook for this; the handler class is chosen by
``web_server.Server.__call__``. The private surface used (``AppRunner._make_server``,
``Server._loop`` and ``Server._kwargs``, ``RequestHandler.handle_error``'s
signature) is guarded by tests/security/test_secret_masking.py.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import http_exceptions, web, web_protocol, web_server

log = logging.getLogger("helpline.ingest")

_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (http_exceptions.LineTooLong, "a request line or header is too long"),
    (http_exceptions.BadHttpMethod, "not an HTTP request"),
    (http_exceptions.BadStatusLine, "not an HTTP request line"),
    (http_exceptions.InvalidHeader, "a header is not valid"),
    (http_exceptions.ContentLengthError, "the body does not match its Content-Length"),
    (http_exceptions.TransferEncodingError, "the body's transfer encoding is broken"),
)


def reason_of(exc: BaseException | None) -> str:
    """What was wrong with a refused request, in words that quote nothing the client sent."""
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "the request is malformed"


class _MaskedRequestHandler(web_protocol.RequestHandler):
    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if not isinstance(exc, http_exceptions.HttpProcessingError) or status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = reason_of(exc)
        log.info(
            "event=http_request_refused status=%d reason=%s error=%s remote=%s",
            status,
            reason.replace(" ", "_"),
            type(exc).__name__,
            request.remote,
        )
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent")
        resp = web.Response(status=status, text=f"{status} Bad Request: {reason}\n", content_type="text/plain")
        resp.force_close()
        return resp


class _MaskedServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _MaskedRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer malformed requests without echoing them."""

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        if type(server) is not web_server.Server:
            raise RuntimeError(f"aiohttp made a {type(server).__name__}; ingest/http_runner.py expects its Server")
        server.__class__ = _MaskedServer  # same state, one overridden method
        return server
