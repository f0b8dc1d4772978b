"""The query language (store.search_syntax): unit tests and a property: any string gives a query
or a QueryError, never another exception."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from helpline.store.fulltext.search import fts5_match, fts5_string
from helpline.store.fulltext.search_syntax import MAX_LENGTH, Query, QueryError, Term, parse


def test_words_phrases_and_exclusions():
    q = parse('refund "charged twice" -paypal -"gift card"')
    assert q.terms == (Term("refund"), Term("charged twice", True))
    assert q.excluded == (Term("paypal"), Term("gift card", True))


def test_fields():
    q = parse(
        "from:alice@example.com subject:invoice status:open status:NEW team:billing tag:VIP "
        "assignee:none channel:sms category:refund priority:high customer:42 "
        "after:2026-03-01 before:2026-04-01T12:00Z words"
    )
    assert q.sender == ("alice@example.com",) and q.subject == ("invoice",)
    assert q.status == ("open", "new") and q.team == ("billing",) and q.tag == ("vip",)
    assert q.assignee == ("none",) and q.channel == ("sms",) and q.category == ("refund",)
    assert q.priority == ("high",) and q.customer == ("42",)
    assert q.after == dt.datetime(2026, 3, 1) and q.before == dt.datetime(2026, 4, 1, 12, 0)
    assert q.terms == (Term("words"),)
    assert q.positive == (Term("words"), Term("invoice"))


def test_quoted_field_value_and_typographic_quotes():
    q = parse('subject:"order lost" \u201cexact words\u201d')
    assert q.subject == ("order lost",) and q.terms == (Term("exact words", True),)


def test_unknown_field_is_text():
    q = parse("Re: http://example.com/x note:this")
    assert [t.text for t in q.terms] == ["Re:", "http://example.com/x", "note:this"]


def test_unbalanced_quote_closes_at_the_end():
    assert parse('"never arrived').terms == (Term("never arrived", True),)


def test_punctuation_alone_is_dropped():
    assert parse("refund !!! -- * ()").terms == (Term("refund"),)


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "no word"),
        ("   ", "no word"),
        ("!!! ---", "no word"),
        ("status:sleeping", "status: must be one of"),
        ("after:yesterday", "after: takes a date"),
        ("-status:open x", "cannot be excluded"),
        ("tag:'drop", "tag"),
        ("x" * (MAX_LENGTH + 1), "at most"),
        (" ".join(["w"] * 30), "more than"),
        ("priority:meh x", "priority: must be one of"),
        ('status:"" x', "needs a value"),
    ],
)
def test_clear_errors(text, says):
    with pytest.raises(QueryError, match=says):
        parse(text)


def test_filters_alone_are_a_query():
    assert parse("status:open").positive == () and parse("status:open").has_filters
    assert parse("-spam").excluded == (Term("spam"),)


def test_fts5_strings_are_quoted():
    assert fts5_string(Term('say "hi"')) == '"say ""hi"""'
    assert fts5_match([Term("a"), Term("NEAR(b c)")]) == '"a" AND "NEAR(b c)"'


def test_normalised_for_misses():
    assert parse("  Refund   PayPal ").normalised() == "refund paypal"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=600))
def test_any_string_gives_a_query_or_a_clear_error(text):
    try:
        q = parse(text)
    except QueryError as exc:
        assert str(exc)
        return
    assert isinstance(q, Query)
    assert q.positive or q.excluded or q.has_filters
    for t in q.positive + q.excluded:
        assert t.text and any(ch.isalnum() for ch in t.text) and "\x00" not in t.text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                '"',
                "-",
                ":",
                "from:",
                "status:",
                "tag:",
                " ",
                "NEAR(",
                "*",
                "^",
                "a",
                "é",
                "OR",
                "AND",
                "NOT",
                "{",
                "}",
                "(",
                ")",
                "after:",
                "2026-01-01",
                "open",
            ]
        ),
        max_size=40,
    )
)
def test_syntax_soup(parts):
    try:
        parse("".join(parts))
    except QueryError:
        pass
