"""Small builders for realistic test mail."""

from __future__ import annotations

import email.utils
import uuid


def make_mail(
    *,
    sender: str = "Alice Customer <alice@example.org>",
    to: str = "support@example.com",
    subject: str = "Printer on fire",
    body: str = "Hello,\nmy printer is on fire.\n\nAlice\n",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    mid = message_id or f"<{uuid.uuid4().hex}@example.org>"
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode(), mid
