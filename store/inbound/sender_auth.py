"""What the trusted MTA in front said about a message's sender: a pure judgement of ``Envelope.auth``.

Anyone can write an Authentication-Results header into a message, so only
one is believed: the topmost whose authserv-id is HELPLINE_TRUSTED_AUTHSERV_ID
(RFC 8601 section 5: the MTA in front removes headers claiming its id from
incoming mail and adds its own on top). With the setting empty nothing is
believed, and no message counts as failed or vouched for.

A sender *failed* when DMARC failed for the From domain, or when SPF failed
(hard ``fail``: the domain says this server may not send for it) and no DKIM
signature passed: the From address then is most likely forged. A sender is
*vouched for* when DMARC passed for the From domain, or a passing DKIM
signature or SPF check is aligned with it (RFC 7489 section 3.1: *relaxed*,
the default of a domain without a DMARC record, means the same organisational
domain; *strict* the same name, ``HELPLINE_AUTH_ALIGNMENT``).

The organisational domain is the registrable name under a public suffix of
the Public Suffix List, ICANN and private sections alike as RFC 7489 section
3.2 asks (``example.co.uk``, not ``co.uk``; ``alice.github.io``, not
``github.io``), so ``evil.co.uk`` never aligns with ``victim.co.uk``. The list
is the snapshot bundled in the ``publicsuffixlist`` package, read once per
process, never fetched at run time: a mail server must not reach out to the
network to judge a message, and the package is re-released weekly with the list.

Lives in ``store`` because the ingest daemon (refusing at DATA) and the
workers (threading, acknowledgements) both judge with it; it reads no wire
format, only the parsed results (ingest/email/auth.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpline.store.domains import _normal, organisational_domain as organisational_domain


ALIGNMENTS = ("relaxed", "strict")

_DKIM_NOT_PASSING = frozenset({"", "none", "fail", "neutral", "permerror", "temperror", "policy"})


@dataclass(frozen=True)
class AuthVerdict:
    trusted: bool = False  # a header of the trusted authserv-id was found
    failed: bool = False  # DMARC failed, or SPF failed with no passing DKIM signature
    dmarc_failed: bool = False  # DMARC failed for the From domain
    vouched: bool = False  # the From domain is authenticated (DMARC pass, or aligned DKIM/SPF pass)
    reason: str = ""
    results: dict[str, Any] = field(default_factory=dict)  # the trusted header's results

    def as_dict(self) -> dict[str, Any]:
        return {
            "trusted": self.trusted,
            "failed": self.failed,
            "dmarc_failed": self.dmarc_failed,
            "vouched": self.vouched,
            "reason": self.reason,
        }


UNTRUSTED = AuthVerdict(reason="no Authentication-Results header of the trusted MTA")


def headers_of(auth: dict[str, Any]) -> list[dict[str, Any]]:
    """Every header's results, topmost first (an envelope from before "headers" has the topmost only)."""
    if not auth:
        return []
    listed = auth.get("headers")
    if isinstance(listed, list):
        return [h for h in listed if isinstance(h, dict)]
    return [auth]


def trusted_header(auth: dict[str, Any], authserv_id: str) -> dict[str, Any] | None:
    """The topmost header written by the trusted MTA, or None.

    Methods it lacks are taken from the trusted headers right below it:
    OpenDKIM and OpenDMARC each add one header under the same authserv-id
    (the DMARC one on top), and a DKIM pass in the lower one must count."""
    want = (authserv_id or "").strip().lower()
    if not want:
        return None
    run: list[dict[str, Any]] = []
    for header in headers_of(auth):
        if str(header.get("authserv_id", "")).lower() == want:
            run.append(header)
        elif run:
            break
    if not run:
        return None
    merged = dict(run[0])
    for lower in run[1:]:
        for key in ("spf", "dkim", "dmarc", "header_from", "spf_domain"):
            if not merged.get(key) and lower.get(key):
                merged[key] = lower[key]
        if lower.get("dkim") == "pass":
            merged["dkim"] = "pass"
        merged["dkim_domains"] = list(merged.get("dkim_domains") or []) + list(lower.get("dkim_domains") or [])
    return merged


def aligned(domain: str, from_domain: str, mode: str = "relaxed") -> bool:
    """Whether an authenticated ``domain`` (DKIM ``d=``, SPF's MAIL FROM domain) is aligned with the From
    domain (RFC 7489 section 3.1): strict, the same name; relaxed, the same organisational domain."""
    if mode not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {', '.join(ALIGNMENTS)}, not {mode!r}")
    a, b = _normal(domain), _normal(from_domain)
    if not a or not b:
        return False
    if a == b:
        return True
    if mode == "strict":
        return False
    org = organisational_domain(a)
    return bool(org) and org == organisational_domain(b)


def judge_header(
    header: dict[str, Any], from_address: str, *, trusted: bool = True, alignment: str = "relaxed"
) -> AuthVerdict:
    """The verdict one header's results give on a message from ``from_address``."""
    from_domain = from_address.rpartition("@")[2].lower().strip(">")
    spf, dkim, dmarc = (str(header.get(k, "")).lower() for k in ("spf", "dkim", "dmarc"))
    judged = str(header.get("header_from", "")).lower()
    about_from = not judged or not from_domain or judged == from_domain
    dmarc_failed = dmarc == "fail" and about_from
    spf_and_dkim = spf == "fail" and dkim in _DKIM_NOT_PASSING
    failed = dmarc_failed or spf_and_dkim
    vouched = (
        not failed
        and bool(from_domain)
        and (
            (dmarc == "pass" and about_from)
            or any(aligned(str(d), from_domain, alignment) for d in header.get("dkim_domains") or ())
            or (spf == "pass" and aligned(str(header.get("spf_domain", "")), from_domain, alignment))
        )
    )
    if dmarc_failed:
        reason = f"dmarc=fail for {judged or from_domain or 'the From domain'}"
    elif spf_and_dkim:
        reason = f"spf=fail and dkim={dkim or 'absent'}"
    else:
        reason = "authenticated" if vouched else "not authenticated"
    return AuthVerdict(
        trusted,
        failed,
        dmarc_failed,
        vouched,
        reason,
        {k: header.get(k, "") for k in ("authserv_id", "spf", "dkim", "dmarc")},
    )


def judge(auth: dict[str, Any], authserv_id: str, from_address: str, alignment: str = "relaxed") -> AuthVerdict:
    """The verdict of the trusted MTA's header; ``UNTRUSTED`` without one."""
    header = trusted_header(auth, authserv_id)
    return judge_header(header, from_address, alignment=alignment) if header is not None else UNTRUSTED
