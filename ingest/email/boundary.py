"""A faster multipart boundary matcher for the standard library's feed parser.

``email.feedparser`` compiles a new regular expression for every multipart
part it meets, ``(?P<sep>--BOUNDARY)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$``,
and since every message has its own boundary, ``re``'s cache never helps:
the compile alone took about half a millisecond per message on the 2-core
machine, a fifth of the ingest daemon's CPU per message under
``helpline bench`` (cProfile of ``EmailIntake.accept_batch``). This module
gives the feed parser a ``re`` stand-in whose ``compile`` answers that one
pattern shape with plain string operations, with the same matches and
groups (``tests/email/test_email_boundary.py`` compares the two on many
lines); every other pattern goes to ``re`` itself.
"""

from __future__ import annotations

import re
import threading
from email import feedparser
from typing import Any

_PREFIX = "(?P<sep>"
_SUFFIX = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_LINESEPS = ("\r\n", "\r", "\n")


_GROUPS = ("sep", "end", "ws", "linesep")  # in the pattern's order, so group(1) is "sep" as with ``re``


class BoundaryMatch:
    __slots__ = ("_groups",)

    def __init__(self, sep: str, end: str | None, ws: str, linesep: str | None) -> None:
        self._groups: dict[str, str | None] = {"sep": sep, "end": end, "ws": ws, "linesep": linesep}

    def group(self, name: str | int = 0) -> str | None:
        """Like ``re.Match.group`` with one argument: 0 for the whole match, a group's name or number."""
        if name == 0:
            return "".join(self._groups[g] or "" for g in _GROUPS)
        if isinstance(name, int):
            if not 0 < name <= len(_GROUPS):
                raise IndexError(f"no such group: {name}")
            name = _GROUPS[name - 1]
        if name not in self._groups:
            raise IndexError(f"no such group: {name!r}")
        return self._groups[name]


class BoundaryPattern:
    """``re.compile(_PREFIX + re.escape(sep) + _SUFFIX).match`` without the regex."""

    __slots__ = ("sep", "pattern")

    def __init__(self, sep: str, pattern: str) -> None:
        self.sep = sep
        self.pattern = pattern

    def match(self, line: str) -> BoundaryMatch | None:
        if not line.startswith(self.sep):
            return None
        rest = line[len(self.sep) :]
        end = None
        if rest.startswith("--"):
            end, rest = "--", rest[2:]
        stripped = rest.lstrip(" \t")
        ws = rest[: len(rest) - len(stripped)]
        # ``$`` matches at the end, or before one final newline.
        for linesep in _LINESEPS:
            if stripped.startswith(linesep) and stripped[len(linesep) :] in ("", "\n"):
                return BoundaryMatch(self.sep, end, ws, linesep)
        if stripped == "":
            return BoundaryMatch(self.sep, end, ws, None)
        return None


class _FeedParserRe:
    """What ``email.feedparser`` sees as ``re``: everything is ``re``'s, except
    that ``escape`` remembers what it escaped so ``compile`` can recognise a
    boundary pattern and build a ``BoundaryPattern`` for it."""

    def __init__(self) -> None:
        self._escaped: dict[str, str] = {}
        self._lock = threading.Lock()

    def escape(self, text: str) -> str:
        out = re.escape(text)
        with self._lock:
            if len(self._escaped) > 256:
                self._escaped.clear()
            self._escaped[out] = text
        return out

    def compile(self, pattern: Any, flags: int = 0) -> Any:
        if not flags and isinstance(pattern, str) and pattern.startswith(_PREFIX) and pattern.endswith(_SUFFIX):
            sep = self._escaped.get(pattern[len(_PREFIX) : -len(_SUFFIX)])
            if sep is not None:
                return BoundaryPattern(sep, pattern)
        return re.compile(pattern, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


def install() -> None:
    """Idempotent; called when the email normaliser is imported."""
    # Through the module's namespace: typeshed's email.feedparser does not declare the module's own ``import re``.
    namespace = vars(feedparser)
    if not isinstance(namespace.get("re"), _FeedParserRe):
        namespace["re"] = _FeedParserRe()
