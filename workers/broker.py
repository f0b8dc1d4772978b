"""The Dramatiq broker: Redis or RabbitMQ from ``HELPLINE_BROKER_URL``, or the bundled Redis.

``redis://`` (or ``unix://``) selects Dramatiq's Redis broker, ``amqp://`` (or
``amqps://``) its RabbitMQ broker with publisher confirms, so an enqueue returns
only once RabbitMQ has the message. Everything else in Helpline asks this module
(``ping``, ``queue_depth``) instead of speaking to one broker's client, so the
two are interchangeable. Dramatiq's RabbitMQ broker holds delayed messages
unacknowledged, and RabbitMQ requeues a message held past its
``consumer_timeout`` (30 minutes by default): ``MAX_DELAY_MS`` keeps every delay
Helpline uses below it (ARCHITECTURE.md, "Retries").

Actors are declared once at import (``workers.actors``) against a stub broker
and re-bound here, so tests and the bench can point the same actors at another
Redis without re-importing modules.
"""

from __future__ import annotations

import importlib
import logging

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from helpline.store.config import Settings, mask_url

from helpline.workers import retry_budget

log = logging.getLogger("helpline.workers")


def _load_middleware(spec: str) -> dramatiq.Middleware:
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"HELPLINE_WORKER_MIDDLEWARE entry {spec!r} must look like package.module:ClassName")
    return getattr(importlib.import_module(module), name)()


MAX_DELAY_MS = retry_budget.MAX_DELAY_MS  # the longest delay a message may be sent with (RabbitMQ's bound)


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://"))


def make_broker(settings: Settings) -> dramatiq.Broker:
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
    url = settings.effective_broker_url
    broker: dramatiq.Broker
    if is_amqp(url):
        # Queues are durable and messages persistent in Dramatiq's RabbitMQ
        # broker; confirms make an enqueue wait until RabbitMQ has it. A vhost
        # (the URL's path) isolates one desk's queues from another's.
        broker = RabbitmqBroker(url=url, middleware=middleware, confirm_delivery=True)
    else:
        broker = RedisBroker(
            url=url,
            middleware=middleware,
            namespace=settings.queue_name,
            # A dead worker's unacked messages come back after this long; the
            # sweeper is the second line of defence.
            heartbeat_timeout=max(5_000, int(settings.pending_after_s * 1000)),
        )
    log.debug("event=broker_configured url=%s", mask_url(settings.effective_broker_url))
    return broker


def ping(broker: dramatiq.Broker) -> None:
    """Raise when the broker does not answer (``/readyz``)."""
    if isinstance(broker, RabbitmqBroker):
        broker.get_queue_message_counts("inbound")  # a round trip on the broker's connection
        return
    broker.client.ping()  # type: ignore[attr-defined]


def queue_depth(broker: dramatiq.Broker, settings: Settings, queues: tuple[str, ...]) -> dict[str, int]:
    """Messages waiting in each queue, ready or delayed, for ``helpline_queue_depth``."""
    if isinstance(broker, RabbitmqBroker):
        depth = {}
        for q in queues:
            ready, delayed, _dead = broker.get_queue_message_counts(q)
            depth[q] = int(ready) + int(delayed)
        return depth
    ns = settings.queue_name
    client = broker.client  # type: ignore[attr-defined]
    return {q: int(client.llen(f"{ns}:{q}")) for q in queues}


def short_timeouts(broker: dramatiq.Broker, seconds: float) -> None:
    """Let this process's Redis calls give up after ``seconds`` (new connections): for a process
    that only enqueues (the ingest daemon), where a hung Redis must be found out quickly and
    the rows are already durable. redis-py's default is 5 s per try."""
    if not isinstance(broker, RedisBroker):
        return  # RabbitMQ: pika's connection has its own socket and blocked-connection timeouts
    broker.client.connection_pool.connection_kwargs.update(socket_timeout=seconds, socket_connect_timeout=seconds)


def setup(settings: Settings) -> dramatiq.Broker:
    """Make the broker global and bind every Helpline actor to it."""
    from helpline.workers import actors  # noqa: F401 - declares the actors

    broker = make_broker(settings)
    dramatiq.set_broker(broker)
    for actor in actors.ALL:
        actor.broker = broker
        broker.declare_actor(actor)
    actors.configure(settings)
    return broker
