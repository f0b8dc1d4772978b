"""What the trusted MTA's Authentication-Results header (RFC 8601) says about SPF, DKIM and DMARC.

Only the topmost header counts: each MTA prepends its own, so the first one
was written by the server in front of us, and any below it came with the
message and may be forged. Microsoft 365 omits the authserv-id, so a first
segment that already reads ``method=result`` is taken as a result.
"""
from __future__ import annotations

import re

from .headers import Headers

_METHODS = ("spf", "dkim", "dmarc")
_FAILED = {"fail", "softfail", "permerror"}
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)(?:/\d+)?\s*=\s*([a-z0-9_-]+)", re.IGNORECASE)


def authentication_results(headers: Headers) -> dict:
    """{"authserv_id", "spf", "dkim", "dmarc", "failed"}, or {} without the header."""
    value = headers.raw("authentication-results")
    if not value:
        return {}
    segments = _split(_strip_comments(value))
    authserv_id = ""
    if segments and not _RESULT.match(segments[0]):
        authserv_id = (segments.pop(0).split() or [""])[0].lower()
    results: dict[str, list[str]] = {}
    for segment in segments:
        m = _RESULT.match(segment)
        if m:
            results.setdefault(m.group(1).lower(), []).append(m.group(2).lower())
    out: dict = {"authserv_id": authserv_id}
    for method in _METHODS:
        found = results.get(method, [])
        # several DKIM signatures: one that verifies is what counts
        out[method] = "pass" if "pass" in found else (found[0] if found else "")
    out["failed"] = [m for m in _METHODS if out[m] in _FAILED]
    return out


def _strip_comments(value: str) -> str:
    """Remove RFC 5322 comments, innermost first (they nest)."""
    while "(" in value:
        stripped = _COMMENT.sub("", value)
        if stripped == value:  # an unbalanced "(": drop from it to the end
            return value[:value.index("(")]
        value = stripped
    return value


def _split(value: str) -> list[str]:
    return [s.strip() for s in value.split(";") if s.strip()]
