"""The block list: senders and domains whose mail goes to spam (``workers/tickets/spam_stage.py``), never dropped.

Two sources, one list: the TOML file's ``[blocklist]`` (``senders``,
``domains``; read with the site configuration) and the entries operators add
with ``helpline blocklist add`` (this table, migration 23). A blocked domain
blocks its subdomains too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import peewee as pw

from helpline.store import batch_cache
from helpline.store.inbound.sender_auth import organisational_domain
from helpline.store.models import Base, utcnow

KINDS = ("sender", "domain")


class BlockedSender(Base):
    id = pw.AutoField()
    kind = pw.CharField(max_length=16)
    value = pw.CharField(max_length=254)
    reason = pw.TextField()
    added_by = pw.CharField(max_length=255)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "blocked_sender"
        indexes = ((("kind", "value"), True),)


@dataclass(frozen=True)
class Entry:
    kind: str
    value: str
    reason: str = ""
    added_by: str = ""
    created_at: dt.datetime | None = None
    source: str = "database"  # or the TOML file's path


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
    d = domain.strip().strip(".").lower()
    try:
        return d.encode("idna").decode("ascii")
    except UnicodeError:
        return d


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


def check_reason(reason: str) -> str:
    """The reason kept with an entry: printable text (newlines and tabs allowed), at most 500 characters."""
    if len(reason) > 500:
        raise ValueError(f"the reason is {len(reason)} characters; at most 500")
    odd = [c for c in reason if not c.isprintable() and c not in "\n\t"]
    if odd:
        names = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(odd))
        raise ValueError(f"the reason contains control or invisible characters ({names})")
    return reason


def add(value: str, *, reason: str, added_by: str) -> tuple[Entry, bool]:
    """(the entry, True when it is new); inside the caller's transaction."""
    kind, v = kind_of(value)
    reason = check_reason(reason)
    row = BlockedSender.get_or_none((BlockedSender.kind == kind) & (BlockedSender.value == v))
    if row is not None:
        return Entry(kind, v, row.reason, row.added_by, row.created_at), False
    now = utcnow()
    BlockedSender.create(kind=kind, value=v, reason=reason, added_by=added_by, created_at=now)
    return Entry(kind, v, reason, added_by, now), True


def remove(value: str) -> bool:
    kind, v = kind_of(value)
    deleted: int = BlockedSender.delete().where((BlockedSender.kind == kind) & (BlockedSender.value == v)).execute()
    return deleted > 0


def stored() -> list[Entry]:
    return [
        Entry(r.kind, r.value, r.reason, r.added_by, r.created_at)
        for r in BlockedSender.select().order_by(BlockedSender.kind, BlockedSender.value)
    ]


def stored_sets() -> tuple[frozenset[str], frozenset[str]]:
    """(blocked senders, blocked domains) of the table, for the spam decision (read once per import batch)."""
    got: tuple[frozenset[str], frozenset[str]] = batch_cache.memoised("blocked", _stored_sets)
    return got


def _stored_sets() -> tuple[frozenset[str], frozenset[str]]:
    senders: set[str] = set()
    domains: set[str] = set()
    for row in BlockedSender.select(BlockedSender.kind, BlockedSender.value):
        (senders if row.kind == "sender" else domains).add(str(row.value))
    return frozenset(senders), frozenset(domains)
