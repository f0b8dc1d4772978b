"""The one decoder of request bodies: JSON and forms in, plain values or a ``BodyError`` out.

Every HTTP surface (the ticket API, ``/api/v1/messages``, Twilio, Slack, the
contact form, CSAT) reads its body through here, so that what the database
cannot store or Python cannot walk is refused (or cleaned) in one place
instead of surfacing later as an HTTP 500 at the insert or in a hash:

- JSON nested deeper than ``MAX_DEPTH`` (the C parser raises ``RecursionError``
  at about 1,000 levels; later code that walks the value would fail earlier);
- lone UTF-16 surrogates (``"\\ud800"``): valid JSON, but no Unicode text, so
  they cannot be encoded as UTF-8 for a hash, a blob or PostgreSQL;
- ``NaN``, ``Infinity`` and numbers too large for a float, which PostgreSQL's
  ``jsonb`` refuses;
- NUL characters, which PostgreSQL refuses in text: stripped (``clean_text``,
  the same function the email normaliser uses), since a customer's message
  must not be lost for an invisible character.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal
from urllib.parse import parse_qsl

from multidict import MultiDict

MAX_DEPTH = 32  # the deepest a real request nests is about 4 (a message's attachments' fields)

NulPolicy = Literal["strip", "keep"]


class BodyError(ValueError):
    """The body cannot be read; ``field`` and ``reason`` say what to fix (answer 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def item(self) -> dict[str, str]:
        return {"field": self.field, "error": self.reason}


def clean_text(text: str) -> str:
    """Text every channel may store (for UTF-8 JSON and SQL): NULs removed, lone surrogates as ``?``."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _refuse_constant(name: str) -> Any:
    raise BodyError("body", f"{name} is not a JSON number this service accepts")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError("body", f"the number {text[:40]} is too large")
    return value


def _string(value: str, path: str, nul: NulPolicy) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise BodyError(
                path or "body",
                f"contains a lone UTF-16 surrogate (\\u{ord(bad):04x}), which is not "
                "Unicode text; send the character's full surrogate pair, or UTF-8",
            ) from None
    if nul == "strip" and "\x00" in value:
        value = value.replace("\x00", "")
    return value


def _walk(value: Any, path: str, depth: int, nul: NulPolicy) -> Any:
    if isinstance(value, str):
        return _string(value, path, nul)
    if depth >= MAX_DEPTH and isinstance(value, (dict, list)):
        raise BodyError(path or "body", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = _string(key, path, nul)
            out[name] = _walk(item, f"{path}.{name}" if path else name, depth + 1, nul)
        return out
    if isinstance(value, list):
        return [_walk(item, f"{path}[{i}]", depth + 1, nul) for i, item in enumerate(value)]
    return value


def load_json(raw: bytes | str, *, nul: NulPolicy = "strip") -> Any:
    """The JSON value of a request body, or ``BodyError`` saying why not (never another exception)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BodyError("body", f"is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise BodyError("body", f"nested deeper than {MAX_DEPTH} levels") from None
    except BodyError:
        raise
    except ValueError as exc:  # JSONDecodeError, and ints over Python's digit limit
        raise BodyError("body", f"is not valid JSON: {exc}") from None
    return _walk(value, "", 0, nul)


def form_fields(raw: bytes) -> MultiDict[str]:
    """An ``application/x-www-form-urlencoded`` body as text fields, each through ``clean_text``
    (invalid UTF-8 becomes U+FFFD, as browsers do)."""
    pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True, errors="replace")
    return MultiDict((clean_text(k), clean_text(v)) for k, v in pairs)
