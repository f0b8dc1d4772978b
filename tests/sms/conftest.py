"""Fixtures of the SMS tests: a local Twilio API, a help desk configured for it,
and the public HTTP listener serving the webhooks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from helpline.ingest import public
from helpline.ingest.channels import twilio_sms
from helpline.notifier import deliver
from helpline.notifier.sms import sms_media
from helpline.notifier.sms.sms_sender import SmsSender
from helpline.store import models as m
from helpline.store.config import Settings
from helpline.workers import pipeline

from ..support.aio_server import ThreadedApp
from ..support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, FakeTwilio, inbound_form
from ..workers.builders import Desk


def twilio_settings(settings: Settings, fake: FakeTwilio) -> Settings:
    return settings.replace(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=OUR_NUMBER,
        twilio_api_url=fake.url,
        public_url=PUBLIC_URL,
    )


class SmsDesk(Desk):
    """The desk of tests/workers/builders.py with the Twilio adapter and the SMS sender."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.intake.register(twilio_sms.KIND, twilio_sms.build_envelope)
        self.sender = SmsSender(settings)

    def configured(self, **changes) -> "SmsDesk":  # noqa: ANN003
        return SmsDesk(self.settings.replace(**changes))

    def accept(self, form: dict[str, str]) -> int:
        result = self.intake.accept_request(twilio_sms.KIND, urlencode(form).encode(), {})
        assert result.status == "accepted", result
        return result.inbound_id

    def text(self, body: str, **kw) -> pipeline.Outcome:  # noqa: ANN003
        """A text arrives (webhook accepted) and a worker processes it; outbox rows are delivered as the actor does."""
        outcome = self.run(self.accept(inbound_form(body, **kw)))
        self.send(outcome)
        return outcome

    def send(self, outcome: pipeline.Outcome) -> None:
        for oid in outcome.outbox_ids:
            deliver.deliver_one(self.settings, self.sender, oid)

    def fetch_media(self, outcome: pipeline.Outcome) -> dict:
        return sms_media.fetch(outcome.media_ids, self.settings, self.intake.blobs)


@pytest.fixture
def sms(backend, fake_twilio) -> SmsDesk:
    return SmsDesk(twilio_settings(backend, fake_twilio))


class PublicServer(ThreadedApp):
    """The public HTTP listener (``ingest/http/public.py``) on a loopback port, blocking work on a small pool."""

    def __init__(self, settings: Settings, intake) -> None:  # noqa: ANN001
        self.executor = ThreadPoolExecutor(2)
        super().__init__(lambda: public.make_app(settings, intake, self.executor), "public-listener")
        self.start()

    def close(self) -> None:
        self.stop()
        self.executor.shutdown()


@pytest.fixture
def server(sms):
    srv = PublicServer(sms.settings, sms.intake)
    yield srv
    srv.close()


def inbound_rows() -> list[m.Inbound]:
    return list(m.Inbound.select().order_by(m.Inbound.id))
