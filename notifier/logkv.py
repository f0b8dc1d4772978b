"""One-line ``event=... key=value`` log records, so log readers can grep and parse them.

Values with spaces or quotes are quoted; callers pass identifiers, counts and
short error texts only — never passwords or message bodies.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("helpline.notifier")

_MAX_VALUE = 300


def _fmt(value: Any) -> str:
    text = str(value)
    if len(text) > _MAX_VALUE:
        text = text[:_MAX_VALUE] + "…"
    if text == "" or any(c in text for c in ' "=\n\r\t'):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
    return text


def line(event: str, **fields: Any) -> str:
    """Render ``event=EVENT k=v ...`` on one line (newlines in values are escaped)."""
    parts = [f"event={event}"]
    parts.extend(f"{k}={_fmt(v)}" for k, v in fields.items())
    return " ".join(parts)
