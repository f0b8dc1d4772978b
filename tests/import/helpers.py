"""Shared bits of the import tests: counts from the database, running the command in a child process."""

from __future__ import annotations

import os
import subprocess
import sys

from helpline.store import models as m

HERE = os.path.dirname(__file__)


def counts() -> dict[str, int]:
    return {
        "tickets": m.Ticket.select().count(),
        "messages": m.Message.select().count(),
        "inbound": m.Inbound.select().count(),
        "outbox": m.Outbox.select().count(),
    }


def child_env(settings) -> dict[str, str]:  # noqa: ANN001
    env = dict(os.environ)
    env.update(
        {
            "HELPLINE_DATABASE_URL": settings.effective_database_url,
            "HELPLINE_DATA_DIR": settings.data_dir,
            "HELPLINE_SUPPORT_ADDRESSES": ",".join(settings.support_addresses),
            "HELPLINE_SECRET_KEY": ",".join(settings.secret_key),
        }
    )
    for name in ("slack_bot_token", "slack_channel", "slack_api_url", "slack_signing_secret"):
        value = getattr(settings, name, "")
        if value:
            env["HELPLINE_" + name.upper()] = str(value)
    return env


def helpline(*args: str, settings, **kw) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen(
        [sys.executable, "-m", "helpline.ingest.cli", *args],
        env=child_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )
