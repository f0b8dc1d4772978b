"""An over-long ``Authorization`` header (or any line aiohttp's parser refuses) must not put
the key into the log or the answer: the ingest daemon's listeners (``ingest.http_runner``)."""

from __future__ import annotations

import asyncio
import logging
import socket

from aiohttp import web, web_protocol, web_server

from helpline.ingest import daemon
from helpline.ingest import public
from helpline.ingest.http import http_runner

KEY = "hlk_SECRETKEY0123456789abcdef"


def _raw_request(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


async def _ask(runner: web.AppRunner, payloads: list[bytes]) -> list[bytes]:
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    loop = asyncio.get_running_loop()
    try:
        return [await loop.run_in_executor(None, _raw_request, port, p) for p in payloads]
    finally:
        await runner.cleanup()


PAYLOADS = [
    b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"A" * 9000 + b"\r\n\r\n",
    b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"\x01\r\n\r\n",
    b"GET /" + KEY.encode() + b"B" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
]


def test_refused_request_is_not_echoed_nor_logged(backend, caplog):
    caplog.set_level(logging.DEBUG)
    d = daemon.IngestDaemon(backend)
    try:

        async def go() -> list[bytes]:
            app = public.make_app(backend, None, None)
            await d._serve_http(app, "127.0.0.1:0", 0)  # noqa: SLF001 - the daemon's own runner
            runner = d.runners[-1]
            assert isinstance(runner, http_runner.AppRunner)
            port = runner.addresses[0][1]
            loop = asyncio.get_running_loop()
            try:
                return [await loop.run_in_executor(None, _raw_request, port, p) for p in PAYLOADS]
            finally:
                await runner.cleanup()

        answers = asyncio.run(go())
    finally:
        d.checkpointer.stop()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n", 1)[0], answer[:200]
        assert b"SECRETKEY" not in answer, answer
    assert b"too long" in answers[0]
    logged = "\n".join(r.getMessage() + (caplog.text if r.exc_info else "") for r in caplog.records) + caplog.text
    assert "SECRETKEY" not in logged
    assert "http_request_refused" in logged


def test_plain_aiohttp_would_echo_the_key():
    """The defect this guards against, and the private surface it relies on, still as expected."""

    async def go() -> list[bytes]:
        return await _ask(web.AppRunner(web.Application(), access_log=None), PAYLOADS[:1])

    assert b"SECRETKEY" in asyncio.run(go())[0]
    assert hasattr(web.AppRunner, "_make_server")
    assert web_server.Server.__call__ is not http_runner._MaskedServer.__call__  # noqa: SLF001
    assert "handle_error" in vars(web_protocol.RequestHandler)


def test_ordinary_requests_still_work():
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def go() -> list[bytes]:
        app = web.Application()
        app.router.add_get("/", hello)
        return await _ask(
            http_runner.AppRunner(app, access_log=None), [b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
        )

    answer = asyncio.run(go())[0]
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")
