"""One event a line: ``key=value`` (default) or JSON, never secrets.

Helpline's own messages are written as ``event=name key=value …``; the
formatter adds time, level and logger. Secrets never reach a log call: URLs go
through ``config.mask_url`` and message bodies are not logged.
"""
from __future__ import annotations

import json
import logging
import sys
import time

from .config import Settings


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        msg = record.getMessage().replace("\n", "\\n")
        if not msg.startswith("event="):
            msg = "msg=" + json.dumps(msg, ensure_ascii=False)
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {msg}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return line


class JsonFormatter(logging.Formatter):
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
        return json.dumps(out, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("peewee").setLevel(logging.WARNING)
    logging.getLogger("mail-parser").setLevel(logging.ERROR)
    logging.getLogger("mailparser").setLevel(logging.ERROR)
