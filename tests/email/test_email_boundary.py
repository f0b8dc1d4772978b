"""The feed parser's boundary matcher (ingest/email/boundary.py) must match
exactly what the regular expression it replaces matches, with the same groups."""

from __future__ import annotations

import itertools
import re
from email import feedparser
from email.parser import BytesParser
from email.policy import compat32

import pytest

from helpline.ingest.email import boundary

SUFFIX = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"


def real(sep: str) -> re.Pattern[str]:
    return re.compile("(?P<sep>" + re.escape(sep) + SUFFIX)


def test_same_matches_and_groups_as_the_regex():
    seps = ["--simple", "--=_Part_12.34+abc", "--(weird)[chars]*?.^$", "--a b"]
    tails = ["", "--", " ", "\t ", "--  "]
    ends = ["", "\n", "\r", "\r\n", "\n\n", "\r\n\n", "\r\r", "\n\r", "x", " x\n", "\r\nx", "-\n"]
    checked = 0
    for sep in seps:
        fast = boundary.BoundaryPattern(sep, "")
        slow = real(sep)
        for tail, end in itertools.product(tails, ends):
            for line in (sep + tail + end, sep[:-1] + end, "x" + sep + end, sep + "extra" + end):
                a, b = fast.match(line), slow.match(line)
                assert (a is None) == (b is None), (line, a, b)
                if b is not None:
                    for g in ("sep", "end", "ws", "linesep", 0, 1, 2, 3, 4):
                        assert a.group(g) == b.group(g), (line, g)
                checked += 1
    assert checked > 900


def test_unknown_groups_raise_index_error_as_re_does():
    fast, slow = boundary.BoundaryPattern("--b", "").match("--b\n"), real("--b").match("--b\n")
    for g in (5, -1, "nope"):
        with pytest.raises(IndexError):
            slow.group(g)
        with pytest.raises(IndexError):
            fast.group(g)


def test_installed_in_the_feed_parser_and_parses_multipart():
    boundary.install()
    assert isinstance(feedparser.re, boundary._FeedParserRe)
    raw = (
        b"From: a@example.org\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b+1(x)"\r\n\r\npreamble\r\n'
        b"--b+1(x)\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
        b"--b+1(x)  \r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b+1(x)--\r\nepilogue\r\n"
    )
    msg = BytesParser(policy=compat32).parsebytes(raw)
    parts = msg.get_payload()
    assert [p.get_payload() for p in parts] == ["first", "second"]
    assert msg.preamble == "preamble" and not msg.defects
    # other patterns still go to re
    assert feedparser.re.compile(r"a+b").match("aab")
