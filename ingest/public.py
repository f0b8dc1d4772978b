"""The public HTTP listener: each channel adapter installs its routes here.

Handlers run blocking intake work (parsing, fsync, commit) through
``run_blocking`` so a slow disk never stalls the event loop; an adapter answers
its provider only after ``intake.accept_request`` returned (the row or the
spool entry is durable).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any, Awaitable, Callable

from aiohttp import web

from helpline.store.config import Settings

from . import contact_form, webhook_api

from . import slack_app, twilio_sms

RunBlocking = Callable[..., Awaitable[Any]]


def make_app(settings: Settings, intake: Any = None, executor: Executor | None = None) -> web.Application:
    async def root(request: web.Request) -> web.Response:
        return web.json_response({"service": "helpline"})

    async def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    app = web.Application(client_max_size=settings.max_message_bytes)
    app["settings"] = settings
    app["intake"] = intake
    app["run_blocking"] = run_blocking
    app.router.add_get("/", root)
    # Channel adapters: each ``install(app)`` adds its routes when its channel is configured.
    webhook_api.install(app)
    contact_form.install(app)
    slack_app.install(app)
    twilio_sms.install(app)
    return app
