"""Typed keys of what the public listener's application carries for its adapters.

aiohttp warns on plain string keys (``NotAppKeyWarning``): a typo in a string
key is a KeyError at request time, a typo in a name is an ImportError at start.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from helpline.store.config import Settings

RunBlocking = Callable[..., Awaitable[Any]]

SETTINGS = web.AppKey("settings", Settings)
INTAKE = web.AppKey("intake", Any)  # the ingest daemon's EmailIntake, or None in adapter-only tests
RUN_BLOCKING = web.AppKey("run_blocking", RunBlocking)  # runs a blocking call on the listener's executor
DELIVER_OUTBOX = web.AppKey("deliver_outbox", Callable[[int], Any])  # "send this outbox row now"
WEBHOOK_SOURCES = web.AppKey("webhook_sources", dict)
WEBHOOK_RATES = web.AppKey("webhook_rates", dict)
