"""The senders of every channel, behind one small interface, so the delivery
loop, the actors and the scheduler treat email, SMS, Slack and webhooks alike.

A sender's ``send`` takes an outbox payload and returns the provider's id for
the message; it raises ``TemporaryFailure`` / ``RelayUnavailable`` (retry with
back-off) or ``PermanentFailure`` (give up, visibly). A sender that is not
configured (no relay, no Twilio account) is skipped and its rows wait.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from helpline.store.config import Settings


class Sender(Protocol):
    channel: str
    unconfigured_hint: str

    @property
    def configured(self) -> bool: ...

    def send(self, payload: dict[str, Any]) -> str: ...


def make_senders(settings: Settings, *, categories: Callable[[], tuple[str, ...]] = tuple) -> dict[str, Sender]:
    """One sender per channel, keyed by the outbox row's ``channel``; ``categories`` lists the category
    labels Slack's ticket card offers (the router's active model, passed in by the worker)."""
    from helpline.notifier.email.email_sender import EmailSender

    senders: dict[str, Sender] = {"email": EmailSender(settings)}
    if settings.slack_bot_token or settings.slack_channel:  # Slack in use (a half-set one warns why it waits)
        from helpline.notifier.slack.slack_sender import SlackSender

        senders["slack"] = SlackSender(settings, categories=categories)
    if settings.twilio_auth_token or settings.twilio_account_sid:  # SMS in use (a half-set one warns why it waits)
        from helpline.notifier.sms.sms_sender import SmsSender

        senders["sms"] = SmsSender(settings)
    if settings.webhook_callbacks:  # outbound webhooks of the sources that registered a URL
        from helpline.notifier.webhook.webhook_sender import WebhookSender

        senders["webhook"] = WebhookSender(settings)
    return senders
