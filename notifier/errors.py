"""How a provider call failed, in the two kinds the outbox cares about.

Messages are for operators and agents: they say what happened and what to
do, and never contain credentials or message content.
"""

from __future__ import annotations


class SendFailure(Exception):
    """A provider did not accept a message."""


class TemporaryFailure(SendFailure):
    """Try again later (the row goes back to ``pending`` with back-off).

    ``retry_after`` (seconds) replaces the back-off when the provider said when
    to come back (HTTP 429 ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TemporaryFailure):
    """The provider (or our own pacing) asked us to wait ``retry_after`` seconds.

    Not the message's fault, so the attempt is not counted: a burst that
    queues must not use up the attempts of the messages at its end."""


class RelayUnavailable(TemporaryFailure):
    """The provider cannot be reached or refuses us (connection, TLS, login).

    Not the message's fault: the rest of a batch would fail the same way, so a
    sender stops trying further rows until the next round.
    """


class OutcomeUnknown(SendFailure):
    """The message was handed over but the provider's answer never came (a timeout after the
    end of DATA): it may have been taken. Never resent automatically; the row becomes
    ``unknown`` for an agent to check, as for a sender that died mid-send."""


class PermanentFailure(SendFailure):
    """The provider refused this message for good (the row becomes ``failed``)."""
