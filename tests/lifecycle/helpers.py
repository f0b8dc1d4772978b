"""Shared by the lifecycle tests: a customer's mail with HTML and an attachment, the CLI run with a
backend's settings as its environment, and a byte search over a directory."""

from __future__ import annotations

import email.utils
import os
import uuid
from email.message import EmailMessage
from pathlib import Path

from helpline.ingest.cli import main as cli
from helpline.store.config import Settings

SUPPORT = "support@example.com"


def rich_mail(
    sender: str, body: str, html: str, files: list[tuple[str, bytes]], subject: str = "Broken order"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.net>"
    msg.set_content(body)
    msg.add_alternative(html, subtype="html")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def env_of(settings: Settings) -> dict[str, str]:
    env = {
        "HELPLINE_DATA_DIR": settings.data_dir,
        "HELPLINE_DATABASE_URL": settings.effective_database_url,
        "HELPLINE_SECRET_KEY": ",".join(settings.secret_key),
        "HELPLINE_SUPPORT_ADDRESSES": ",".join(settings.support_addresses),
        "HELPLINE_BLOB_BACKEND": settings.blob_backend,
    }
    for name in (
        "broker_url",
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_api_url",
        "twilio_from",
        "slack_bot_token",
        "slack_api_url",
        "slack_channel",
        "public_url",
        "config_file",
        "erasure_ledger",
        "backup_passphrase",
    ):
        value = getattr(settings, name)
        if value:
            env["HELPLINE_" + name.upper()] = value
    return env


def run_cli(monkeypatch, settings: Settings, *argv: str) -> int:  # noqa: ANN001
    for key in [k for k in os.environ if k.startswith("HELPLINE_")]:
        monkeypatch.delenv(key)
    for key, value in env_of(settings).items():
        monkeypatch.setenv(key, value)
    return cli.main(list(argv))


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``root`` holding one of ``needles`` (as bytes, case-insensitive for ASCII)."""
    hits = []
    low = [n.lower() for n in needles]
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes().lower()
            except OSError:
                continue
            for n in low:
                if n in data:
                    hits.append(f"{path.relative_to(root)}: {n.decode(errors='replace')}")
    return hits
