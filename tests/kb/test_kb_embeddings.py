"""Sentence embeddings beside BM25 in the article ranking: with the extra a paraphrase that shares no word
with its article is found; without it BM25 alone answers; article vectors are computed once per version."""

from __future__ import annotations

import pytest

from helpline.router.categories import embeddings
from helpline.router.kb import kb_embed, kb_rank
from helpline.router.kb.kb_suggest import Suggester

DOCS = [
    kb_rank.Doc("en/reset-password", "Reset your password", ("How do I reset my password?", "I forgot my password")),
    kb_rank.Doc("en/cancel-order", "Cancel an order", ("How can I cancel my order?", "I want to cancel a purchase")),
    kb_rank.Doc("en/track-delivery", "Track a delivery", ("Where is my parcel?", "My delivery is late")),
    kb_rank.Doc("en/refund", "Get a refund", ("I want my money back", "How do I get a refund?")),
]
META = {
    d.key: {"slug": d.key.split("/")[1], "title": d.title, "language": "en", "audience": "public", "team": None}
    for d in DOCS
}
PARAPHRASE = "credentials slipped out of memory"  # no word, stem or 4-gram in common with reset-password


def test_a_paraphrase_with_no_shared_word_ranks_first_with_the_extra():
    assert embeddings.available(), embeddings.missing()
    s = Suggester(DOCS, META, [])
    assert isinstance(s.articles, kb_embed.FusedRanker)
    assert s.bm25.rank(PARAPHRASE) == []  # BM25 alone finds nothing
    top = s.suggest(PARAPHRASE)["articles"]
    assert top[0]["slug"] == "reset-password"
    assert top[0]["why"].startswith("similar question: ")
    # words still count: a text BM25 answers keeps its article first, with BM25's "why"
    plain = s.suggest("I want to cancel my order")["articles"][0]
    assert plain["slug"] == "cancel-order" and plain["why"] in DOCS[1].questions
    # unrelated text gets nothing, as without the extra
    assert s.suggest("xylophone")["articles"] == []


def test_without_the_extra_bm25_alone_answers(monkeypatch):
    monkeypatch.setattr(embeddings, "missing", lambda: "the onnxruntime package is not installed")

    def no_model() -> None:
        raise AssertionError("the model must not be loaded without the extra")

    monkeypatch.setattr(embeddings, "get_embedder", no_model)
    s = Suggester(DOCS, META, [])
    assert isinstance(s.articles, kb_rank.Ranker)
    assert s.suggest(PARAPHRASE)["articles"] == []
    got = s.suggest("I forgot my password")["articles"]
    assert [a["slug"] for a in got][:1] == ["reset-password"]
    assert got[0]["score"] == kb_rank.Ranker(DOCS).rank("I forgot my password")[0].score  # plain BM25 scores
    # and the switch of `helpline kb suggest --no-embeddings` does the same with the extra installed
    monkeypatch.undo()
    assert isinstance(Suggester(DOCS, META, [], embeddings=False).articles, kb_rank.Ranker)


def test_article_vectors_are_computed_once_per_article_version(monkeypatch):
    emb = embeddings.get_embedder()
    calls: list[int] = []
    real = emb.embed

    def counting(texts):  # noqa: ANN001, ANN202
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(emb, "embed", counting)
    docs = [kb_rank.Doc("en/x-" + d.key, d.title, d.questions + ("unique to this test",)) for d in DOCS]
    kb_embed.FusedRanker(kb_rank.Ranker(docs), emb)
    first = sum(calls)
    assert first == sum(len(d.questions) + 1 for d in docs)  # questions and title, in one call
    calls.clear()
    kb_embed.FusedRanker(kb_rank.Ranker(docs), emb)  # a reload: nothing changed, nothing embedded
    assert calls == []
    changed = [docs[0], docs[1], docs[2], kb_rank.Doc(docs[3].key, docs[3].title, ("I need a refund now",))]
    kb_embed.FusedRanker(kb_rank.Ranker(changed), emb)
    assert calls == [2]  # only the changed article: its question and title


@pytest.mark.parametrize("text", ["", "   ", "\x00\ufeff", "a" * 20000, "🙂" * 500])
def test_odd_texts_do_not_break_the_fused_ranking(text):
    s = Suggester(DOCS, META, [])
    assert isinstance(s.suggest(text)["articles"], list)
