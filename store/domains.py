"""Domain names as mail and operators write them: the organisational domain by the Public Suffix List, and
the rules of a block-list entry.

Shared by the sender-authentication verdict (``store/inbound/sender_auth.py``), the block list
(``store/inbound/blocklist.py``) and the configuration file's ``[blocklist]`` (``store/siteconfig``), so a
file cannot hold an entry the command refuses. The list is the snapshot bundled in the
``publicsuffixlist`` package, read once per process; nothing is fetched.
"""

from __future__ import annotations

import functools
import re

from publicsuffixlist import PublicSuffixList


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the bundled snapshot; 50-140 ms to read, so once per process


def warm() -> None:
    """Read the list now: a worker process calls this at start (``workers/entry.py``), so the first message
    whose sender is checked does not pay for the read."""
    _psl()


def _normal(domain: str) -> str:
    """Lower case, no trailing dot, A-labels (``xn--``), so a U-label From and an A-label ``d=`` compare equal."""
    domain = domain.strip().strip(">").rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN (too long a label, a bare dot): compared as it came
        return domain


def organisational_domain(domain: str) -> str:
    """RFC 7489 section 3.2's Organizational Domain of ``domain``; "" when there is none (a public suffix
    itself, such as ``co.uk`` or ``github.io``, or not a domain name)."""
    name = _normal(domain)
    if not name or ".." in name or name.startswith("."):
        return ""
    return _psl().privatesuffix(name) or ""


MAX_INPUT = 320  # longer than any address (254) or domain (253) with room for spaces: refused before it is parsed
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def _shown(value: str) -> str:
    """What was typed, for a refusal: escaped and cut, so a control character or a page of text stays one line."""
    return ascii(value[:80]) + ("..." if len(value) > 80 else "")


def ascii_domain(domain: str) -> str:
    """``domain`` as A-labels (``bücher.de`` → ``xn--bcher-kva.de``), lower case, no outer dots; as given when it
    is no valid IDN. Entries and the senders they are compared with both go through it, so an entry typed
    in either form matches mail in either form."""
    return _normal(domain.strip().lstrip("."))


def _domain(value: str, d: str) -> str:
    if not d or len(d) > 253:
        raise ValueError(f"{_shown(value)} is not a domain: empty or longer than 253 characters")
    try:
        a = d.encode("idna").decode("ascii")
        a.encode("ascii").decode("idna")  # a malformed xn-- label is refused here
    except UnicodeError as exc:
        raise ValueError(f"{_shown(value)} is not a valid domain name ({exc})") from None
    labels = a.split(".")
    if len(labels) < 2 or len(a) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"{_shown(value)} is neither an email address nor a domain such as example.com "
            "(letters, digits and hyphens in dot-separated labels)"
        )
    return a


def kind_of(value: str) -> tuple[str, str]:
    """(kind, normalised value) of what an operator typed: an address is a sender, anything else a domain;
    raises ValueError with a message for them.

    Domains are kept as A-labels (punycode). A leading ``*.`` or ``*@`` is read as the domain itself (a
    domain already covers its subdomains and every sender in it); any other wildcard is refused, since it
    would be stored as a name that never matches. Control, invisible and other non-printing characters
    (NUL, a newline, a bidi override) are refused, not stripped: what is stored is what was seen."""
    if len(value) > MAX_INPUT:
        raise ValueError(f"{_shown(value)} is {len(value)} characters; an address or domain is at most 254")
    odd = [c for c in value if not c.isprintable() and c != " "]
    if odd:
        names = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(odd))
        raise ValueError(f"{_shown(value)} contains control or invisible characters ({names}): type the entry alone")
    v = value.strip().lower()
    if v.startswith(("*.", "*@")):
        v = v[2:]
    if any(c in v for c in "*?[]"):
        raise ValueError(
            f"{_shown(value)}: wildcards are not supported; block the domain (example.com), which covers its "
            "subdomains, or one address"
        )
    v = v.strip(".")
    if v.startswith("@"):
        v = v[1:]
    if "@" in v:
        local, _, domain = v.rpartition("@")
        if not _LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
            raise ValueError(f"{_shown(value)} is not an email address")
        address = f"{local}@{_domain(value, domain)}"
        if len(address) > 254:
            raise ValueError(f"{_shown(value)} is longer than an email address may be (254 characters)")
        return "sender", address
    if any(c.isspace() for c in v):
        raise ValueError(f"{_shown(value)} is neither an email address nor a domain such as example.com")
    domain = _domain(value, v)
    if not organisational_domain(domain):
        raise ValueError(
            f"{_shown(value)} is a public suffix (Public Suffix List): it would block every domain under it; "
            "block the domains themselves"
        )
    return "domain", domain
