"""BM25 ranking of knowledge-base articles (and resolved tickets) for a customer's text.

A pure, in-memory ranker: the caller hands it the documents read from the
store, it answers queries without I/O. Built once per process (a thousand
``kb suggest --stdin`` lines cost one build), a query costs a walk over the
postings of its terms.

An article is scored on four views: all its questions, title and tags as one
text (words spread over several phrasings add up: on the evaluation this view
alone beat the best single question by 12 points of top-1), its single
best-matching question (a small weight: a tie-break, and the "why" shown to the
agent), its body (an article whose questions are few), and the character
4-grams of its questions' stems (a misspelt or compounded word still meets its
article: +2 points of top-3 with three questions per article, +0.6 with ten).
The weights and BM25 parameters come from the retrieval evaluation
(``python -m tests.kb.eval_retrieval``, tuned on the dev split, reported on the
test split).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from helpline.router.kb import kb_text


@dataclass(frozen=True)
class Params:
    k1: float = 1.2
    b: float = 0.75
    pairs: bool = True
    pair_weight: float = 0.1  # a pair of adjacent stems, against 1.0 for a stem
    w_best: float = 0.1  # the best-matching single question (mostly a tie-break, and the "why")
    w_all: float = 1.0  # title, tags and all questions as one text
    w_body: float = 0.1  # the article's body
    w_chars: float = 0.3  # character 4-grams of the stems (typos, compounds), over all questions


DEFAULT = Params()


@dataclass(frozen=True)
class Doc:
    """One thing to rank: an article (questions, body) or a resolved ticket (its text as the body)."""

    key: str
    title: str = ""
    questions: tuple[str, ...] = ()
    body: str = ""
    tags: tuple[str, ...] = ()
    language: str = "en"


@dataclass(frozen=True)
class Hit:
    key: str
    score: float
    why: str
    coverage: float = 0.0  # share of the query's words (IDF-weighted) the document has: 0..1, scale-free
    margin: float = 0.0  # this score over the next one's (the last hit: over 0, i.e. inf capped at 99)


@dataclass
class _Field:
    """BM25 statistics of one view: units (texts) each belonging to one document."""

    owner: list[int] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    postings: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    idf: dict[str, float] = field(default_factory=dict)
    avg: float = 1.0

    def add(self, owner: int, toks: Sequence[str]) -> None:
        unit = len(self.owner)
        self.owner.append(owner)
        self.length.append(len(toks))
        for term, tf in Counter(toks).items():
            self.postings[term].append((unit, tf))

    def freeze(self) -> None:
        n = len(self.owner)
        self.avg = (sum(self.length) / n) if n else 1.0
        self.avg = self.avg or 1.0
        self.idf = {t: math.log(1.0 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    def scores(self, query: dict[str, float], p: Params) -> dict[int, float]:
        """BM25 of every unit that shares a term with the query (unit index -> score)."""
        out: dict[int, float] = defaultdict(float)
        k1, b, avg = p.k1, p.b, self.avg
        for term, qw in query.items():
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = self.idf[term] * qw
            for unit, tf in posting:
                norm = k1 * (1.0 - b + b * self.length[unit] / avg)
                out[unit] += idf * tf * (k1 + 1.0) / (tf + norm)
        return out


def _grams(text: str, n: int = 4) -> list[str]:
    out = []
    for w in kb_text.stems(text):
        w = f" {w} "
        out += [w[i : i + n] for i in range(max(1, len(w) - n + 1))]
    return out


class Ranker:
    """BM25 over a fixed set of documents, grouped by language."""

    def __init__(self, docs: Iterable[Doc], params: Params = DEFAULT) -> None:
        self.params = params
        self.docs: list[Doc] = list(docs)
        self._best, self._all, self._body, self._chars = _Field(), _Field(), _Field(), _Field()
        self._question_of: list[str] = []  # unit of _best -> the question's text
        for i, d in enumerate(self.docs):
            lang = d.language
            for q in d.questions:
                self._best.add(i, self._terms(q, lang))
                self._question_of.append(q)
            whole = " ".join([d.title, *d.tags, *d.questions])
            self._all.add(i, self._terms(whole, lang))
            self._body.add(i, self._terms(d.body, lang))
            if params.w_chars:
                self._chars.add(i, _grams(whole))
        for f in (self._best, self._all, self._body, self._chars):
            f.freeze()

    def __len__(self) -> int:
        return len(self.docs)

    def _terms(self, text: str, language: str) -> list[str]:
        return kb_text.terms(text, language, pairs=self.params.pairs)

    def _query(self, text: str, language: str) -> dict[str, float]:
        pw = self.params.pair_weight
        return {t: (pw if "_" in t else 1.0) for t in self._terms(text, language)}

    def rank(self, text: str, k: int = 3, *, language: str | None = None, allow: "set[str] | None" = None) -> list[Hit]:
        """The ``k`` best documents for ``text`` (of ``language`` and in ``allow`` when given), best first."""
        p = self.params
        query = self._query(text, language or "en")
        if not query:
            return []
        total: dict[int, float] = defaultdict(float)
        best_unit: dict[int, tuple[float, int]] = {}
        for unit, s in self._best.scores(query, p).items():
            owner = self._best.owner[unit]
            if owner not in best_unit or s > best_unit[owner][0]:
                best_unit[owner] = (s, unit)
        for owner, (s, _) in best_unit.items():
            total[owner] += p.w_best * s
        for unit, s in self._all.scores(query, p).items():
            total[self._all.owner[unit]] += p.w_all * s
        if p.w_body:
            for unit, s in self._body.scores(query, p).items():
                total[self._body.owner[unit]] += p.w_body * s
        if p.w_chars:
            grams = {g: 1.0 for g in _grams(text)}
            for unit, s in self._chars.scores(grams, p).items():
                total[self._chars.owner[unit]] += p.w_chars * s
        keep = [(s, i) for i, s in total.items() if s > 0 and self._wanted(i, language, allow)]
        keep.sort(key=lambda si: (-si[0], self.docs[si[1]].key))
        hits = []
        for n, (s, i) in enumerate(keep[:k]):
            why = self._question_of[best_unit[i][1]] if i in best_unit else self._why_words(i, query)
            nxt = keep[n + 1][0] if n + 1 < len(keep) else 0.0
            hits.append(
                Hit(
                    self.docs[i].key,
                    round(s, 4),
                    why,
                    round(self._coverage(i, query), 4),
                    round(min(s / nxt, 99.0) if nxt > 0 else 99.0, 4),
                )
            )
        return hits

    def _coverage(self, i: int, query: dict[str, float]) -> float:
        """IDF-weighted share of the query's stems found in the document's questions, title or tags; a
        word no document has weighs as an average word (a name or a typo must not sink it, another topic's
        words still do); function words and pleasantries ("hi", "thanks", "it") do not count."""
        have = self._doc_terms(i)
        unknown = self.__dict__.get("_unknown_idf")
        if unknown is None:  # a word no article has (a name, a typo, another topic): an average word's weight
            idfs = [v for t, v in self._all.idf.items() if "_" not in t]
            unknown = self.__dict__["_unknown_idf"] = (sum(idfs) / len(idfs)) if idfs else 1.0
        total = got = 0.0
        lang = self.docs[i].language
        for t in query:
            if "_" in t or kb_text.is_common(t, lang):
                continue
            w = self._all.idf.get(t, unknown)
            total += w
            got += w if t in have else 0.0
        return got / total if total else 0.0

    def _doc_terms(self, i: int) -> set[str]:
        cache = self.__dict__.setdefault("_terms_of", {})
        if i not in cache:
            d = self.docs[i]
            cache[i] = set(self._terms(" ".join([d.title, *d.tags, *d.questions]), d.language))
        return cache[i]

    def _wanted(self, i: int, language: str | None, allow: "set[str] | None") -> bool:
        d = self.docs[i]
        if language and d.language.split("-")[0].lower() != language.split("-")[0].lower():
            return False
        return allow is None or d.key in allow

    def _why_words(self, i: int, query: dict[str, float]) -> str:
        """The query's words found in the document, for an agent to see why it came up."""
        d = self.docs[i]
        have = set(self._terms(" ".join([d.title, *d.questions, d.body]), d.language))
        words = [t for t in query if "_" not in t and t in have]
        return "matched words: " + ", ".join(words[:8]) if words else ""
