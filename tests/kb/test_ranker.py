"""The BM25 ranker as plain functions, and its accuracy on the Bitext retrieval set as a guard."""

from __future__ import annotations

from helpline.router.kb import kb_rank
from helpline.router.kb import kb_text
from helpline.router.kb.kb_suggest import Suggester, Suggestion, confident

from . import eval_retrieval as E


def test_terms_keep_negations_stem_and_pair():
    assert kb_text.stems("My card hasn't arrived, I can't use it!") == [
        "my",
        "card",
        "has",
        "not",
        "arriv",
        "can",
        "not",
        "use",
        "it",
    ]
    assert kb_text.stems("Charged charges charging 4711") == ["charg", "charg", "charg"]
    assert "top_up" in kb_text.terms("top up failed")
    assert kb_text.stems("Ich habe mein Passwort vergessen", "de")[-1] == "vergess"


def test_ranking_why_language_and_allow():
    docs = [
        kb_rank.Doc("en/card-arrival", "Card arrival", ("my card has not arrived", "when will my card come")),
        kb_rank.Doc("en/card-lost", "Lost card", ("I lost my card", "my card was stolen")),
        kb_rank.Doc("de/karte", "Karte", ("meine Karte ist nicht angekommen",), language="de"),
    ]
    r = kb_rank.Ranker(docs)
    top = r.rank("The card still has not arrived")
    assert top[0].key == "en/card-arrival" and top[0].why == "my card has not arrived"
    assert top[0].margin > 1 and 0 < top[0].coverage <= 1
    assert [h.key for h in r.rank("Karte nicht angekommen", language="de")] == ["de/karte"]
    assert [h.key for h in r.rank("card stolen", allow={"en/card-arrival"})] == ["en/card-arrival"]
    assert r.rank("") == [] and r.rank("xylophone") == []


def test_confident_needs_public_coverage_and_margin():
    good = Suggestion("article", "a", 5.0, "", coverage=0.9, margin=3.0)
    assert confident([good]) is good
    assert confident([Suggestion("article", "a", 5.0, "", audience="internal", coverage=0.9, margin=3.0)]) is None
    assert confident([Suggestion("article", "a", 5.0, "", coverage=0.3, margin=3.0)]) is None
    assert confident([Suggestion("article", "a", 5.0, "", coverage=0.9, margin=1.1)]) is None
    assert confident([]) is None


def test_suggester_without_tickets():
    s = Suggester(
        [kb_rank.Doc("en/a", "Reset password", ("I forgot my password",))],
        {"en/a": {"slug": "a", "title": "Reset password", "language": "en", "audience": "public", "team": None}},
        [],
    )
    assert s.suggest("forgot password") == {
        "articles": [
            {
                "slug": "a",
                "title": "Reset password",
                "score": s.suggest("forgot password")["articles"][0]["score"],
                "why": "I forgot my password",
            }
        ],
        "tickets": [],
    }


def test_accuracy_on_the_bitext_retrieval_set_beats_tfidf():
    """A guard against a change that makes retrieval worse (figures: python -m tests.kb.eval_retrieval)."""
    docs, qs = E.articles(0), E.queries("test")
    gold = [g for _, g in qs]
    b1, b3 = E.score(E.bm25(docs, qs, kb_rank.DEFAULT), gold)
    t1, t3 = E.score(E.tfidf(docs, qs), gold)
    assert b3 >= 0.97 and b1 >= 0.87
    assert b1 > t1 and b3 >= t3
