"""One event a line: ``key=value`` (default) or JSON, never secrets.

Helpline's own messages are written as ``event=name key=value …``; the
formatter adds time, level and logger. Secrets never reach a log call: URLs go
through ``config.mask_url`` and message bodies are not logged. What does reach
a line anyway (a library's debug output of a request body, an exception quoting
its input) leaves through ``pii.mask``: card numbers, IBANs, national ids and
password lines are masked in the finished line.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from helpline.store.privacy import pii
from helpline.store.config import Settings


class KeyValueFormatter(logging.Formatter):
    def __init__(self, *args: object, tokens: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.tokens = tokens  # HELPLINE_PII_MASK_TOKENS

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        msg = record.getMessage().replace("\n", "\\n")
        if not msg.startswith("event="):
            msg = "msg=" + json.dumps(msg, ensure_ascii=False)
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {msg}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return pii.mask(line, tokens=self.tokens)


class JsonFormatter(logging.Formatter):
    def __init__(self, *args: object, tokens: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.tokens = tokens

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": record.created, "level": record.levelname.lower(), "logger": record.name}
        msg = record.getMessage()
        if msg.startswith("event="):
            for part in msg.split(" "):
                key, sep, value = part.partition("=")
                if sep:
                    out[key] = value
        else:
            out["msg"] = msg
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(pii.mask_json(out, tokens=self.tokens), ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    tokens = settings.pii_mask_tokens
    handler.setFormatter(
        JsonFormatter(tokens=tokens) if settings.log_format == "json" else KeyValueFormatter(tokens=tokens)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("peewee").setLevel(logging.WARNING)
    logging.getLogger("mail-parser").setLevel(logging.ERROR)
    logging.getLogger("mailparser").setLevel(logging.ERROR)
