"""Typed keys of what the public listener's application carries for its adapters.

aiohttp warns on plain string keys (``NotAppKeyWarning``): a typo in a string
key is a KeyError at request time, a typo in a name is an ImportError at start.
Keys whose value is not a plain class are typed by their annotation
(``web.AppKey[T]``), which is what ``app[KEY]`` gives back to the type checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web

from helpline.store.config import Settings

if TYPE_CHECKING:  # the intake is built by the daemon; this module only names its type
    from helpline.ingest.intake import EmailIntake

RunBlocking = Callable[..., Awaitable[Any]]

SETTINGS = web.AppKey("settings", Settings)
# The ingest daemon's EmailIntake, or None in adapter-only tests: read it with ``intake_of``.
INTAKE: web.AppKey[EmailIntake | None] = web.AppKey("intake")
RUN_BLOCKING: web.AppKey[RunBlocking] = web.AppKey("run_blocking")  # runs a blocking call on the listener's executor
DELIVER_OUTBOX: web.AppKey[Callable[[int], Any]] = web.AppKey("deliver_outbox")  # "send this outbox row now"
WEBHOOK_SOURCES: web.AppKey[dict[str, tuple[str, ...]]] = web.AppKey("webhook_sources")  # source -> its secrets
WEBHOOK_RATES: web.AppKey[dict[str, int]] = web.AppKey("webhook_rates")  # source -> requests per minute


def intake_of(app: web.Application) -> EmailIntake:
    """The listener's intake; a clear error, not an AttributeError on None, when it was made without one."""
    intake = app[INTAKE]
    if intake is None:
        raise RuntimeError(
            "this listener was made without an intake (make_app(settings) alone, as adapter-only "
            "tests do); pass the ingest daemon's EmailIntake to make_app to accept messages"
        )
    return intake
