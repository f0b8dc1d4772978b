"""Sentence embeddings beside BM25 in the knowledge-base retriever, when the ``embeddings`` extra is installed.

BM25 finds an article that shares words with the customer's text; a paraphrase
with none ("my card got swallowed by the machine" for "card retained by the
ATM") is found only by meaning. So each article's questions (and its title) are
embedded with the process's one model (``router/categories/embeddings.py``), a
text is embedded once per suggest, and an article's dense score is the cosine of
its best question. The two rankings are fused with reciprocal rank fusion
(``1/(k + rank)`` summed over both lists): scale-free, so a corpus that makes
BM25 scores large or small needs no recalibration, and on the retrieval
evaluation it beat a weighted sum of normalised scores (``python -m
tests.kb.eval_retrieval --dense``).

Article vectors are computed once per article version: they are kept per process
under a hash of the article's content and the model's checksum, so a reload of
the knowledge base after one article changed embeds only that one, and a
thousand ``kb suggest --stdin`` lines embed the articles once.

Without the extra none of this is imported: ``kb_suggest`` keeps BM25 alone.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from helpline.router.kb import kb_rank

if TYPE_CHECKING:
    import numpy as np

    from helpline.router.categories.embeddings import Embedder

RRF_K = 5.0  # reciprocal rank fusion's constant: small, since only the top few ranks matter here
DEPTH = 20  # ranks of each list that take part in the fusion
W_DENSE = 1.5  # the dense list's weight in the fusion (BM25's is 1): dev split, 3 and 10 questions per article
# A dense candidate needs this cosine with one of the article's questions: on the Bitext dev split the right
# article's best question is above 0.48 for 99 % of texts, while unrelated text ("xylophone", "my cat likes
# fish", "hello") stays under 0.31; below it an article comes only from BM25, as without the extra.
DENSE_MIN = 0.4
_BODY_CHARS = 400  # an article without questions is embedded by its title and the start of its body

_cache: dict[str, "np.ndarray"] = {}
_cache_lock = threading.Lock()


def content_hash(doc: kb_rank.Doc, model: str) -> str:
    """What an article's vectors depend on: its title, questions, body (when it has no questions) and the model."""
    body = "" if doc.questions else doc.body[:_BODY_CHARS]
    blob = json.dumps([model, doc.language, doc.title, list(doc.questions), body], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _texts(doc: kb_rank.Doc) -> list[str]:
    out = [q for q in doc.questions if q.strip()]
    if doc.title.strip():
        out.append(doc.title)
    if not doc.questions and doc.body.strip():
        out.append((doc.title + "\n" + doc.body[:_BODY_CHARS]).strip())
    return out


def cache_size() -> int:
    return len(_cache)


@dataclass(frozen=True)
class Fusion:
    rrf_k: float = RRF_K
    depth: int = DEPTH
    w_dense: float = W_DENSE
    dense_min: float = DENSE_MIN


class FusedRanker:
    """BM25 (:class:`kb_rank.Ranker`) and the dense ranking of the same documents, fused; the same ``rank``."""

    def __init__(self, bm25: kb_rank.Ranker, embedder: "Embedder", fusion: Fusion = Fusion()) -> None:
        import numpy as np

        self.bm25 = bm25
        self.docs = bm25.docs
        self.embedder = embedder
        self.fusion = fusion
        model = str(embedder.info.get("onnx_sha256") or embedder.name)
        mats, owners = [], []
        todo: list[tuple[int, str, list[str]]] = []
        with _cache_lock:
            for i, d in enumerate(self.docs):
                key = content_hash(d, model)
                if key in _cache:
                    mats.append(_cache[key])
                    owners += [i] * len(_cache[key])
                else:
                    todo.append((i, key, _texts(d)))
        if todo:  # one embed call for every new article's texts
            flat = [t for _, _, texts in todo for t in texts]
            vecs = embedder.embed(flat)
            at = 0
            with _cache_lock:
                for i, key, texts in todo:
                    m = vecs[at : at + len(texts)]
                    at += len(texts)
                    _cache[key] = m
                    mats.append(m)
                    owners += [i] * len(m)
        dim = embedder.dim
        self._matrix = np.vstack(mats) if mats else np.zeros((0, dim), dtype=np.float32)
        self._owner = np.asarray(owners, dtype=np.int64)
        self._index = {d.key: i for i, d in enumerate(self.docs)}

    def __len__(self) -> int:
        return len(self.docs)

    def dense(self, text: str, vector: "np.ndarray | None" = None) -> dict[int, float]:
        """Document index -> cosine of its best question with ``text`` (documents with any text)."""
        import numpy as np

        if not len(self._owner) or not text.strip():
            return {}
        sims = self._matrix @ (self.embedder.embed_one(text) if vector is None else vector)
        best = np.full(len(self.docs), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owner, sims)
        return {i: float(s) for i, s in enumerate(best) if s > -1.0}

    def rank(
        self, text: str, k: int = 3, *, language: str | None = None, allow: "set[str] | None" = None
    ) -> list[kb_rank.Hit]:
        f = self.fusion
        lexical = self.bm25.rank(text, max(f.depth, k), language=language, allow=allow)
        index = self._index
        vector = self.embedder.embed_one(text) if text.strip() and len(self._owner) else None
        dense = self.dense(text, vector) if vector is not None else {}
        wanted = sorted(
            ((s, i) for i, s in dense.items() if s >= f.dense_min and self.bm25._wanted(i, language, allow)),
            key=lambda si: (-si[0], self.docs[si[1]].key),
        )[: f.depth]
        fused: dict[int, float] = {}
        for r, h in enumerate(lexical[: f.depth]):
            fused[index[h.key]] = fused.get(index[h.key], 0.0) + 1.0 / (f.rrf_k + r + 1)
        for r, (_, i) in enumerate(wanted):
            fused[i] = fused.get(i, 0.0) + f.w_dense / (f.rrf_k + r + 1)
        if not lexical and not wanted:
            return []
        by_key = {h.key: h for h in lexical}
        order = sorted(fused.items(), key=lambda it: (-it[1], self.docs[it[0]].key))[:k]
        top_bm25 = lexical[0].score if lexical else 0.0
        hits = []
        for i, s in order:
            key = self.docs[i].key
            found = by_key.get(key)
            if found is None:  # found by meaning alone: no shared word to show, the closest question instead
                h = kb_rank.Hit(key, 0.0, self._closest_question(i, vector), 0.0, 0.0)
            else:
                h = found
            if found is not None and h.key != lexical[0].key:
                # confidence (deflection) stays BM25's: an article BM25 did not put first is not "confident"
                h = replace(h, margin=round(min(h.score / top_bm25, 99.0), 4) if top_bm25 else 0.0)
            hits.append(replace(h, score=round(s, 6)))
        return hits

    def _closest_question(self, i: int, vector: "np.ndarray | None") -> str:
        texts = _texts(self.docs[i])
        if not texts or vector is None:
            return ""
        sims = self._matrix[self._owner == i] @ vector
        return "similar question: " + texts[int(sims.argmax())]


def maybe_fused(bm25: kb_rank.Ranker, *, use: bool | None = None) -> kb_rank.Ranker | FusedRanker:
    """``bm25`` fused with embeddings when the extra is installed (``use``: force on/off, None: when available)."""
    from helpline.router.categories import embeddings

    if use is False or (use is None and embeddings.missing() is not None) or not len(bm25):
        return bm25
    return FusedRanker(bm25, embeddings.get_embedder())
