"""The Slack fixtures (fake Slack, settings with it) for the suggestion tests."""

from ..slack.conftest import fake_slack, slack_settings  # noqa: F401
from ..api.conftest import api  # noqa: F401,E402
