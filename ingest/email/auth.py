"""What the trusted MTA's Authentication-Results header (RFC 8601) says about SPF, DKIM and DMARC.

Only the topmost header counts: each MTA prepends its own, so the first one
was written by the server in front of us, and any below it came with the
message and may be forged. Microsoft 365 omits the authserv-id, so a first
segment that already reads ``method=result`` is taken as a result.

Which header to believe is the worker's call (HELPLINE_TRUSTED_AUTHSERV_ID,
store/inbound/sender_auth.py), so the envelope also keeps every header's results in
``auth["headers"]``, topmost first: the trusted MTA's may sit below an
internal hop's.
"""

from __future__ import annotations

import re
from typing import Any

from helpline.ingest.email.headers import Headers

_METHODS = ("spf", "dkim", "dmarc")
_FAILED = {"fail", "softfail", "permerror"}
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)(?:/\d+)?\s*=\s*([a-z0-9_-]+)", re.IGNORECASE)
_PROPERTY = re.compile(r"\b(header\.from|header\.d|header\.i|smtp\.mailfrom)\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)
MAX_HEADERS = 16  # enough for any real relay chain; a flood of forged ones below is dropped


def authentication_results(headers: Headers) -> dict:
    """{"authserv_id", "spf", "dkim", "dmarc", "failed"} of the topmost header, or {} without one."""
    value = headers.raw("authentication-results")
    return parse_one(value) if value else {}


def all_results(headers: Headers) -> list[dict]:
    """``parse_one`` of each header, topmost first, with the domains each result speaks for."""
    return [parse_one(v, domains=True) for v in headers.raw_all("authentication-results")[:MAX_HEADERS]]


def envelope_auth(headers: Headers) -> dict[str, Any]:
    """The envelope's ``auth``: the topmost header's results, and every header's under "headers"."""
    every = all_results(headers)
    if not every:
        return {}
    top = {k: every[0][k] for k in ("authserv_id", "spf", "dkim", "dmarc", "failed")}
    return {**top, "headers": every}


def parse_one(value: str, *, domains: bool = False) -> dict:
    """One header's results; with ``domains`` also the From domain DMARC judged
    (``header_from``), the domains of passing DKIM signatures and the SPF domain."""
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
    if domains:
        out.update(_domains(segments))
    return out


def _domains(segments: list[str]) -> dict:
    header_from, spf_domain, dkim_domains = "", "", []
    for segment in segments:
        m = _RESULT.match(segment)
        if not m:
            continue
        method, result = m.group(1).lower(), m.group(2).lower()
        props = {k.lower(): v.strip("<>").rpartition("@")[2].lower() for k, v in _PROPERTY.findall(segment)}
        if method == "dmarc" and not header_from:
            header_from = props.get("header.from", "")
        elif method == "spf" and not spf_domain:
            spf_domain = props.get("smtp.mailfrom", "")
        elif method == "dkim" and result == "pass":
            d = props.get("header.d") or props.get("header.i", "")
            if d and d not in dkim_domains:
                dkim_domains.append(d)
    return {"header_from": header_from, "spf_domain": spf_domain, "dkim_domains": dkim_domains[:8]}


def _strip_comments(value: str) -> str:
    """Remove RFC 5322 comments, innermost first (they nest)."""
    while "(" in value:
        stripped = _COMMENT.sub("", value)
        if stripped == value:  # an unbalanced "(": drop from it to the end
            return value[: value.index("(")]
        value = stripped
    return value


def _split(value: str) -> list[str]:
    return [s.strip() for s in value.split(";") if s.strip()]
