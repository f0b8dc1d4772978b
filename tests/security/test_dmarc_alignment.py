"""DMARC alignment by the Public Suffix List (RFC 7489 sections 3.1 and 3.2).

Before, a passing DKIM signature or SPF check vouched for a From domain when one name was a suffix of the other:
a signature of ``co.uk`` (or of ``uk``) aligned with every ``*.co.uk`` sender, and two subdomains of one
organisation (``mail.example.co.uk``, ``example.co.uk``'s ``billing.``) sometimes did and sometimes did not.
"""

from __future__ import annotations

import pytest

from helpline.ingest.email.auth import parse_one
from helpline.store.config import ConfigError, load
from helpline.store.inbound.sender_auth import aligned, judge, organisational_domain

MX = "mx.helpline.test"


@pytest.mark.parametrize(
    "domain, org",
    [
        ("example.co.uk", "example.co.uk"),
        ("mail.Example.CO.UK.", "example.co.uk"),
        ("a.b.shop.com.au", "shop.com.au"),
        ("example.com", "example.com"),
        ("co.uk", ""),  # a public suffix has no organisational domain
        ("com.au", ""),
        ("uk", ""),
        ("alice.github.io", "alice.github.io"),  # a private suffix of the list counts too (RFC 7489 3.2)
        ("www.alice.github.io", "alice.github.io"),
        ("github.io", ""),
        ("bücher.de", "xn--bcher-kva.de"),  # IDN: compared as A-labels
        ("mail.xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("", ""),
        ("a..b", ""),
    ],
)
def test_organisational_domain(domain, org):
    assert organisational_domain(domain) == org


@pytest.mark.parametrize(
    "d, from_domain, relaxed, strict",
    [
        ("example.co.uk", "example.co.uk", True, True),
        ("mail.example.co.uk", "example.co.uk", True, False),
        ("example.co.uk", "billing.example.co.uk", True, False),
        ("a.example.co.uk", "b.example.co.uk", True, False),  # siblings: the old suffix test said no
        ("evil.co.uk", "victim.co.uk", False, False),
        ("co.uk", "victim.co.uk", False, False),  # the old suffix test said yes
        ("uk", "victim.co.uk", False, False),
        ("shop.com.au", "mail.shop.com.au", True, False),
        ("com.au", "shop.com.au", False, False),
        ("attacker.github.io", "victim.github.io", False, False),
        ("github.io", "victim.github.io", False, False),
        ("xn--bcher-kva.de", "bücher.de", True, True),
        ("", "example.org", False, False),
    ],
)
def test_alignment(d, from_domain, relaxed, strict):
    assert aligned(d, from_domain, "relaxed") is relaxed
    assert aligned(d, from_domain, "strict") is strict


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="relaxed, strict"):
        aligned("a.example", "a.example", "loose")
    with pytest.raises(ConfigError, match="HELPLINE_AUTH_ALIGNMENT"):
        load({"HELPLINE_AUTH_ALIGNMENT": "loose"})


def _vouched(header: str, sender: str, alignment: str = "relaxed") -> bool:
    return judge({"headers": [parse_one(f"{MX}; {header}", domains=True)]}, MX, sender, alignment).vouched


def test_a_signature_of_a_neighbour_under_a_public_suffix_does_not_vouch():
    assert not _vouched("dkim=pass header.d=evil.co.uk; dmarc=none", "boss@victim.co.uk")
    assert not _vouched("dkim=pass header.d=co.uk; dmarc=none", "boss@victim.co.uk")
    assert not _vouched("spf=pass smtp.mailfrom=evil.com.au; dmarc=none", "boss@victim.com.au")
    assert not _vouched("dkim=pass header.d=attacker.github.io; dmarc=none", "alice@victim.github.io")


def test_the_organisations_own_subdomains_vouch_when_relaxed_only():
    assert _vouched("dkim=pass header.d=mail.example.co.uk; dmarc=none", "ann@example.co.uk")
    assert _vouched("spf=pass smtp.mailfrom=bounces.shop.com.au; dmarc=none", "ann@news.shop.com.au")
    assert not _vouched("dkim=pass header.d=mail.example.co.uk; dmarc=none", "ann@example.co.uk", "strict")
    assert _vouched("dkim=pass header.d=example.co.uk; dmarc=none", "ann@example.co.uk", "strict")
