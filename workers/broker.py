"""The Dramatiq broker: Redis from ``HELPLINE_BROKER_URL`` or the bundled one.

Actors are declared once at import (``workers.actors``) against a stub broker
and re-bound here, so tests and the bench can point the same actors at another
Redis without re-importing modules.
"""
from __future__ import annotations

import importlib
import logging

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (AgeLimit, Callbacks, CurrentMessage, Pipelines, Retries, ShutdownNotifications,
                                 TimeLimit)

from helpline.store.config import Settings, mask_url

from . import retry_budget

log = logging.getLogger("helpline.workers")


def _load_middleware(spec: str) -> dramatiq.Middleware:
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"HELPLINE_WORKER_MIDDLEWARE entry {spec!r} must look like package.module:ClassName")
    return getattr(importlib.import_module(module), name)()


def make_broker(settings: Settings) -> RedisBroker:
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        # The one retry budget (see retry_budget.py); CurrentMessage lets an actor see its retry count.
        Retries(min_backoff=500, max_backoff=60_000, max_retries=retry_budget.dramatiq_max_retries(settings)),
        CurrentMessage(),
    ]
    middleware += [_load_middleware(spec) for spec in settings.worker_middleware]
    broker = RedisBroker(
        url=settings.effective_broker_url,
        middleware=middleware,
        namespace=settings.queue_name,
        # A dead worker's unacked messages come back after this long; the
        # sweeper is the second line of defence.
        heartbeat_timeout=max(5_000, int(settings.pending_after_s * 1000)),
    )
    log.debug("event=broker_configured url=%s", mask_url(settings.effective_broker_url))
    return broker


def setup(settings: Settings) -> RedisBroker:
    """Make the broker global and bind every Helpline actor to it."""
    from . import actors  # noqa: F401 - declares the actors

    broker = make_broker(settings)
    dramatiq.set_broker(broker)
    for actor in actors.ALL:
        actor.broker = broker
        broker.declare_actor(actor)
    actors.configure(settings)
    return broker
