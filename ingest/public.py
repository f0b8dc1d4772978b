"""The public HTTP listener: each channel adapter and HTTP application installs its routes here.

Handlers run blocking intake work (parsing, fsync, commit) through
``run_blocking`` so a slow disk never stalls the event loop; an adapter answers
its provider only after ``intake.accept_request`` returned (the row or the
spool entry is durable).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

from helpline.store.config import Settings

from helpline.ingest.channels import contact_form, slack_app, twilio_sms, webhook_api
from helpline.ingest.http import csat_pages, downloads
from helpline.ingest.http import api_limits, incident_api, search_api, ticket_api
from helpline.ingest.http import app_keys as K

if TYPE_CHECKING:  # the daemon passes its intake in; this module only names the type
    from helpline.ingest.intake import EmailIntake


def make_app(
    settings: Settings, intake: EmailIntake | None = None, executor: Executor | None = None
) -> web.Application:
    async def root(request: web.Request) -> web.Response:
        return web.json_response({"service": "helpline"})

    async def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    app = web.Application(client_max_size=settings.max_message_bytes)
    app[K.SETTINGS] = settings
    app[K.INTAKE] = intake
    app[K.RUN_BLOCKING] = run_blocking
    api_limits.install(app)  # rate limits in front of every /api/ route
    app.router.add_get("/", root)
    if intake is not None:
        register_parsers(intake)
    # Channel adapters: each ``install(app)`` adds its routes when its channel is configured.
    slack_app.install(app)
    twilio_sms.install(app)
    webhook_api.install(app)
    contact_form.install(app)
    csat_pages.install(app)
    ticket_api.install(app)
    incident_api.install(app)
    from helpline.ingest.http import lifecycle_api

    lifecycle_api.install(app)  # customers' export and erasure (admin keys)
    from helpline.ingest.http import kb_api, kb_pages

    kb_api.install(app)
    kb_pages.install(app)
    search_api.install(app)
    downloads.install(app)
    return app


def register_parsers(intake: EmailIntake) -> None:
    """Every HTTP channel's parser, whether or not its routes are on: a request
    spooled while a channel was configured must still drain after it is turned
    off, and the scheduler drains the spool without the HTTP app."""
    intake.register(twilio_sms.KIND, twilio_sms.build_envelope)
    intake.register(slack_app.KIND, slack_app.build_slack_message)
    intake.register(slack_app.ACTION_KIND, slack_app.build_slack_action)
    webhook_api.register_builders(intake)
    contact_form.register_builders(intake)
