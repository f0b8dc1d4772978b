"""Fixtures of the attachment-link tests: the Slack tests' help desk (fake Slack Web API,
relay sink, the public listener served for real) with HELPLINE_PUBLIC_URL pointing at
that listener, so the links Helpline signs are fetched from it over HTTP, plus the
local Twilio API and a webhook source's receiver."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest

from helpline.ingest.channels import twilio_sms
from helpline.ingest.channels.webhook_api import register_builders as register_webhook
from helpline.notifier.email.email_sender import EmailSender
from helpline.notifier.sms.sms_sender import SmsSender
from helpline.notifier.webhook.webhook_sender import WebhookSender
from helpline.store import models as m

from ..slack.conftest import fake_slack, parent_ts, quick_sender, slack_settings  # noqa: F401 (fixtures)
from ..slack.test_slack_replies import Team
from ..support.fake_twilio import FakeTwilio, inbound_form
from ..support.receiver import Receiver
from ..webhook.support import SOURCES, encode, message
from ..sms.conftest import twilio_settings


CUSTOMERS = "C0CUSTOMER"  # a customer-facing Slack channel


class FileTeam(Team):
    """Team with links: HELPLINE_PUBLIC_URL is the listener's own address; SMS and webhooks too."""

    def __init__(self, settings, relay_sink, fake_slack, fake_twilio: FakeTwilio, receiver: Receiver) -> None:  # noqa: F811
        settings = twilio_settings(settings, fake_twilio).replace(
            webhook_sources=SOURCES, webhook_callbacks=f"shop={receiver.url}", slack_intake_channels=(CUSTOMERS,)
        )
        super().__init__(settings, relay_sink, fake_slack)
        self.public_url = f"http://127.0.0.1:{self.listener.port}"
        self.senders["email"].close()
        self.configure(public_url=self.public_url)
        self.twilio = fake_twilio
        self.receiver = receiver
        self.desk.intake.register(twilio_sms.KIND, twilio_sms.build_envelope)
        register_webhook(self.desk.intake)

    def configure(self, **changes) -> None:  # noqa: ANN003
        """New settings for the workers and senders (the listener keeps its own)."""
        self.desk.settings = self.settings = self.settings.replace(**changes)
        if "email" in self.senders:
            self.senders["email"].close()
        self.senders = {
            "email": EmailSender(self.settings),
            "slack": quick_sender(self.settings),
            "sms": SmsSender(self.settings),
            "webhook": WebhookSender(self.settings),
        }

    def customer_texts(self, body: str, sender: str = "+14155550123") -> m.Ticket:
        result = self.desk.intake.accept_request(
            twilio_sms.KIND, urlencode(inbound_form(body, sender=sender)).encode(), {}
        )
        assert result.status == "accepted", result
        (outcome,) = self.work()
        return m.Ticket.get_by_id(outcome.ticket_id)

    def app_posts(self, files: list[tuple[str, str, bytes]] = (), **over) -> m.Ticket:  # noqa: ANN003
        """A message from the ``shop`` source's app, for a customer known there only by its user id."""
        body = message(customer={"external_id": "user-42", "name": "Ann Appuser"}, **over)
        if files:
            body["attachments"] = [
                {"filename": n, "content_type": t, "content": base64.b64encode(d).decode()} for n, t, d in files
            ]
        result = self.desk.intake.accept_request(
            "webhook",
            encode(body),
            {
                "source": "shop",
                "auth": "signature",
                "content_type": "application/json",
                "idempotency_key": json.dumps(over, sort_keys=True) + str(len(files)),
            },
        )
        assert result.status == "accepted", result
        (outcome,) = self.work()
        return m.Ticket.get_by_id(outcome.ticket_id)


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack, fake_twilio, receiver):  # noqa: F811
    t = FileTeam(slack_settings, relay_sink, fake_slack, fake_twilio, receiver)
    yield t
    t.close()


__all__ = ["parent_ts"]
