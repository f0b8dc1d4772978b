"""An aiohttp application served on a loopback port by an event loop on a thread of
its own, so synchronous tests can talk to it (and to the real clients pointed at it)."""

from __future__ import annotations

import asyncio
import threading
from typing import Callable

from aiohttp import web


class ThreadedApp:
    def __init__(self, make_app: Callable[[], web.Application], name: str = "aiohttp-test-server") -> None:
        self.make_app = make_app
        self.name = name
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> "ThreadedApp":
        ready = threading.Event()

        async def serve() -> None:
            self._runner = web.AppRunner(self.make_app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # noqa: SLF001 - the port the OS picked
            ready.set()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.name} did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
