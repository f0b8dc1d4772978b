"""Helpers shared by the email normaliser tests (a uniquely named module, so that
``from conftest import ...`` never picks up another folder's conftest)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

MAIL_DIR = Path(__file__).resolve().parents[1] / "data" / "mail"
SUPPORT = ("support@helpline.example",)
RECEIVED = datetime(2026, 3, 2, 10, 15, 1, tzinfo=timezone.utc)


class BlobStore(dict):
    """put_blob for tests: remembers what was stored under which key."""

    def put(self, data: bytes) -> str:
        key = "blob-" + hashlib.sha256(data).hexdigest()[:16]
        self[key] = data
        return key


def raw_mail(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()
