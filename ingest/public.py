"""The public HTTP listener. The channel issues add Twilio, Slack and webhook routes here."""
from __future__ import annotations

from aiohttp import web

from helpline.store.config import Settings


def make_app(settings: Settings) -> web.Application:
    async def root(request: web.Request) -> web.Response:
        return web.json_response({"service": "helpline"})

    app = web.Application(client_max_size=settings.max_message_bytes)
    app.router.add_get("/", root)
    return app
