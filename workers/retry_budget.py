"""How many times an inbound message is tried: one budget, ``HELPLINE_MAX_ATTEMPTS``.

Two counters enforce it, each for the failures it can see (ARCHITECTURE.md, "nothing accepted is lost"):

- Dramatiq's ``Retries`` middleware counts, per queue message, the tries that
  *raised*; with ``max_retries = max_attempts - 1`` it stops after
  ``max_attempts`` tries, with back-off between them. No actor overrides it.
- The ``inbound.attempts`` column counts the tries that *began*, committed
  before any work. A worker killed mid-try (out of memory, SIGKILL) raises
  nothing, and its message comes back from Redis with its retry count
  unchanged; so does a row the sweeper re-enqueues in a new queue message.
  ``pipeline.begin_attempt`` quarantines a row whose attempts are used up:
  the guard against a message that keeps killing its worker.

A try is the last when either counter says so; the row is then marked
``failed`` with its reason, and the exception still propagates so that
Dramatiq records the message as dead instead of it vanishing silently.
"""

from __future__ import annotations

from dramatiq.middleware import CurrentMessage

from helpline.store.config import Settings

# RabbitMQ's default consumer_timeout is 30 minutes; a delayed message held
# longer is requeued (and run twice). Retries back off at most a minute and the
# undo windows are minutes, so 25 minutes leaves room. Here rather than in
# ``broker`` so that the actors, which the broker binds, may use it too.
MAX_DELAY_MS = 25 * 60 * 1000


def dramatiq_max_retries(settings: Settings) -> int:
    """Retries after the first try, so that first try + retries = ``max_attempts``."""
    return max(0, settings.max_attempts - 1)


def retries_done() -> int:
    """Retries Dramatiq has made of the message being processed (0 on its first delivery or outside a worker)."""
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message is not None else 0


def is_last_try(settings: Settings, db_attempts: int, retries: int) -> bool:
    """True when no further try will come: the row's attempts or the queue message's retries are used up."""
    return db_attempts >= settings.max_attempts or retries >= dramatiq_max_retries(settings)
