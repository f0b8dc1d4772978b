"""Email address handling shared by loop protection and rate limiting.

Comparisons are case-insensitive and ignore a ``+tag`` in the local part:
``Support+billing@Example.com`` is the same mailbox as ``support@example.com``
for the questions "is this us?" and "how many acks did this mailbox get?",
because a sender who varies the tag must not escape either check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from email.utils import getaddresses, parseaddr

# A deliberately plain shape: one @, no whitespace or header punctuation, a
# dotted domain. Anything odder is not worth an automatic reply.
_SANE = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\.][^\s@<>()\[\],;:\"\\]*\.[^\s@<>()\[\],;:\"\\.]+$")


_BARE = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+$")


def bare(value: str) -> bool:
    """True when ``value`` is already a bare ``local@domain`` with nothing to
    parse: the common case, answered without the stdlib address parser
    (~60 µs a call on the 2-core machine, several calls per message)."""
    return bool(_BARE.match(value))


@lru_cache(maxsize=8192)  # the stdlib parser costs ~50 µs a call and the pipeline asks about the same few addresses
def addr_spec(value: str) -> str:
    """The bare address of ``"Name" <a@b>`` or ``a@b`` (stripped, case kept)."""
    if not value:
        return ""
    if bare(value):
        return value
    _name, addr = parseaddr(value.strip())
    return addr.strip()


def is_sane(addr: str) -> bool:
    """True for one plain ``local@domain.tld`` address, safe to send to."""
    return bool(addr) and len(addr) <= 254 and bool(_SANE.match(addr)) and ".." not in addr


def single_address(values: list[str]) -> str:
    """The one address in a header's values, or "" when there are none or several."""
    values = [v for v in values if v]
    if not values:
        return ""
    if len(values) == 1 and bare(values[0].strip()):
        return values[0].strip()
    found = [a for _n, a in getaddresses([v for v in values if v]) if a]
    return found[0].strip() if len(found) == 1 else ""


def canonical(addr: str) -> str:
    """Lower-case, without the local part's ``+tag``: the key for "same mailbox"."""
    local, at, domain = addr.strip().lower().rpartition("@")
    if not at:
        return addr.strip().lower()
    local = local.split("+", 1)[0]
    return f"{local}@{domain}"


def local_part(addr: str) -> str:
    """The local part, lower-cased, without its ``+tag``."""
    return canonical(addr).rpartition("@")[0]
