"""The SMS desk of tests/sms for the near-duplicate tests (an email, then a text)."""

from __future__ import annotations

import pytest

from ..sms.conftest import SmsDesk, twilio_settings


@pytest.fixture
def desk(backend, fake_twilio) -> SmsDesk:  # noqa: F811
    return SmsDesk(twilio_settings(backend, fake_twilio))
