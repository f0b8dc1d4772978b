"""The packaged default on realistic support mail in four languages, the old labels' mapping, and
the confidence threshold (router/models/README.md documents all three).

tests/router/data/support_emails.csv holds support emails written for these tests (not taken from
the training data: router/models/synthetic_support.csv has other sentences); UNCLEAR are messages
with nothing to route on.
"""

from __future__ import annotations

import pytest

from helpline.router.categories import category
from helpline.router.categories import default_labels
from helpline.router.categories import model_store
from helpline.router.routing import _category_in

from .conftest import support_email_rows

UNCLEAR = ["Re:", "see attached", "Thanks", "ok", "Test", "?", "asdf qwer", "Fwd:", "hello?"]
# Contentless text the model was confident about before the filler-word gate (confidence then in brackets).
CONTENTLESS = [
    "Re:",
    "Danke",
    "Gracias!",
    "Re: AW: Danke",
    "hi there",
    "hello",
    "asdf",
    "Merci",
    "...",
    "Hola",
    "?",
    "Fwd: see attached",
    "Thanks, regards",
]  # Re: 0.89, Danke 0.88, Gracias! 0.93, hi there 0.53
SHORT_BUT_CLEAR = [
    ("Refund please", "cancellation_refund"),
    ("invoice", "billing_payments"),
    ("password", "account_login"),
    ("Rechnung", "billing_payments"),
    ("Where is my parcel?", "order_delivery"),
    ("Login broken", "bug_outage"),
    ("Re: cancel", "cancellation_refund"),
]


@pytest.fixture(scope="module")
def default():
    return model_store.load_model(model_store.packaged_default_path())


def test_the_default_knows_the_general_labels(default):
    assert set(default.labels) == set(default_labels.LABELS)


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_support_emails_get_their_category(default, language):
    rows = support_email_rows(language)
    assert len(rows) >= 18
    decisions = [category.classify(s, b, default) for s, b, _ in rows]
    right = sum(d.category == label for d, (_, _, label) in zip(decisions, rows, strict=False))
    assert right / len(rows) >= 0.88, [(d.category, label) for d, (_, _, label) in zip(decisions, rows, strict=False)]
    assert sum(not d.classified for d in decisions) <= 1


def test_the_issues_examples(default):
    d = category.classify("Charged twice", "I was charged twice and your site is down", default)
    assert d.classified and d.category in (default_labels.BILLING, default_labels.BUG)
    d = category.classify(
        "Frage zur Rechnung",
        "Guten Tag, ich habe eine Frage zu meiner letzten Rechnung. Der Betrag stimmt nicht mit meinem Tarif überein.",
        default,
    )
    assert d.category == default_labels.BILLING


def test_the_threshold_sorts_clear_from_unclear(default):
    """At the default threshold nearly every clear email is classified, and most contentless ones are not."""
    clear = [category.classify(s, b, default) for s, b, _ in support_email_rows()]
    unclear = [category.classify("", t, default) for t in UNCLEAR]
    assert sum(d.classified for d in clear) / len(clear) >= 0.95
    assert sum(not d.classified for d in unclear) >= len(UNCLEAR) // 2, [(d.predicted, d.confidence) for d in unclear]


def test_contentless_text_is_unclassified_however_confident(default):
    """Greetings, thanks, reply prefixes and keyboard noise carry no category, even where the character n-grams
    make the model sure of one; a single word that means something still gets its label."""
    for text in CONTENTLESS:
        d = category.classify("", text, default)
        assert not d.classified, (text, d)
        assert ("greetings and fillers" in d.reason) == (d.confidence >= d.threshold), (text, d)
    for text in ("Re:", "Danke", "Gracias!"):  # confident before the gate
        assert "greetings and fillers" in category.classify("", text, default).reason
    assert category.classify("Re:", "", default).predicted  # the best guess is still recorded in the event
    for text, label in SHORT_BUT_CLEAR:
        assert category.classify("", text, default).category == label, text


def test_old_labels_map_onto_the_new_ones():
    assert default_labels.canonical("REFUND") == "cancellation_refund"
    assert default_labels.canonical("Invoice") == "billing_payments"
    assert default_labels.canonical("my_own_label") == "my_own_label"
    assert set(default_labels.LEGACY_LABELS.values()) <= set(default_labels.LABELS)
    assert _category_in("order_delivery", ("delivery",)) and not _category_in("order_delivery", ("refund",))


def test_unknown_categories_are_named():
    known = default_labels.LABELS
    assert default_labels.unknown_categories(["refund", "billing_payments", "warranty"], known) == ["warranty"]
    assert default_labels.unknown_categories(["warranty"], [*known, "warranty"]) == []
