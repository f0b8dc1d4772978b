"""A webhook source's endpoint for the tests: a local aiohttp server that records each request and
answers with the next scripted status (then 200). The real sender (urllib) talks to it."""

from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web

from .stack import free_port


class Receiver:
    """A source's endpoint: records each request; answers with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/helpline/events"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append({"headers": dict(request.headers), "body": await request.read()})
        answer = self.script.pop(0) if self.script else 200
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return web.Response(status=status, headers=headers)

    def start(self) -> "Receiver":
        self.thread.start()

        async def up() -> web.AppRunner:
            app = web.Application()
            app.router.add_post("/helpline/events", self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner

        self.runner = asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]
