"""The Slack stand-in and Slack-enabled settings, so the import tests can show nothing reaches Slack."""

from ..slack.conftest import fake_slack, slack_settings  # noqa: F401
