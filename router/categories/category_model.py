"""The category model: a scikit-learn pipeline plus a fast path for one message.

The pipeline is plain scikit-learn, so it can be saved with skops and checked
against its own ``predict_proba``::

    Pipeline([
        ("features", FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, ...)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, ...)),
        ])),
        ("clf", CalibratedClassifierCV(LinearSVC(C, class_weight="balanced"),
                                       method="temperature", ensemble=False)),
        # or LogisticRegression(C, class_weight="balanced")
    ])

scikit-learn's per-call overhead (input validation, sparse matrix assembly,
several sparse products) costs about 2 ms for one message, far more than the
arithmetic, so :meth:`CategoryModel.predict_proba_one` does the same
computation by hand: n-gram columns from a dict lookup (the char n-grams of
each distinct word remembered), sublinear TF x IDF with L2 normalisation per
block, one gather from the coefficient matrix (kept column-major so that a
feature's weights for all classes are contiguous), then the softmax of the
(temperature-scaled) scores. It equals ``pipeline.predict_proba`` (tests check
it) at about 0.1 ms for a short message and 0.25 ms for a 500-character mail.

A model trained with the ``embeddings`` extra installed also has a
:class:`SecondStage`: a logistic regression over the sentence embedding of the
message (``router/categories/embeddings.py``) joined to the first stage's probabilities.
It answers only when the TF-IDF model's confidence is below the second stage's
calibrated threshold, so most messages never pay for an embedding. Without the
extra at prediction time the model answers with its first stage alone (logged
once), so a model trained with embeddings still loads and works everywhere.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

# Only this much of subject + text is read: the start of a message says what it
# is about, and a bound keeps prediction time bounded for long mails.
DEFAULT_MAX_CHARS = 2000
# Bumped whenever compose_text changes, so an old model is never fed text
# prepared differently from its training data.
TEXT_PREP = 1

_WS = re.compile(r"\s+")
log = logging.getLogger("helpline.router")


def compose_text(subject: str | None, text: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The one string the model reads: subject, newline, text; whitespace collapsed; bounded."""
    subject = _WS.sub(" ", subject or "").strip()
    body = _WS.sub(" ", (text or "")[: max_chars * 2]).strip()
    joined = f"{subject}\n{body}" if subject and body else subject or body
    return joined[:max_chars]


@dataclass
class _Block:
    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray | None
    offset: int
    weight: float
    sublinear: bool
    norm: str | None
    columns: Callable[[str], tuple[np.ndarray, np.ndarray]] | None = None


# Words whose char n-gram columns are remembered per model; past this the memo starts over.
WORD_MEMO_SIZE = 50_000


def _char_wb_columns(vec: Any) -> Callable[[str], tuple[np.ndarray, np.ndarray]] | None:
    """(columns, counts) of a char_wb vectorizer for one document, memoised per word.

    scikit-learn's char_wb analyzer pads each whitespace-separated word of the
    preprocessed text with one space on each side and takes its n-grams, a word
    shorter than n once and no longer n-grams of it. The n-grams of a word do
    not depend on its neighbours, so the columns of each distinct word are
    computed once and remembered: most words of a support mail were seen
    before. Equal to the analyzer's output (a test checks it on odd input).
    """
    if vec.analyzer != "char_wb" or vec.preprocessor is not None or vec.tokenizer is not None or vec.input != "content":
        return None
    preprocess = vec.build_preprocessor()
    decode = vec.decode
    min_n, max_n = vec.ngram_range
    vocab = vec.vocabulary_
    memo: dict[str, np.ndarray] = {}
    empty = np.empty(0, dtype=np.intp)

    def word_columns(word: str) -> np.ndarray:
        w = f" {word} "
        w_len = len(w)
        found: list[int] = []
        get = vocab.get
        for n in range(min_n, max_n + 1):
            if w_len <= n:
                j = get(w)
                if j is not None:
                    found.append(j)
                break
            for i in range(w_len - n + 1):
                j = get(w[i : i + n])
                if j is not None:
                    found.append(j)
        return np.array(found, dtype=np.intp) if found else empty

    def columns(doc: str) -> tuple[np.ndarray, np.ndarray]:
        words = preprocess(decode(doc)).split()
        if len(memo) > WORD_MEMO_SIZE:
            memo.clear()
        parts = []
        for word in words:
            cols = memo.get(word)
            if cols is None:
                cols = memo[word] = word_columns(word)
            if len(cols):
                parts.append(cols)
        if not parts:
            return empty, empty
        return np.unique(np.concatenate(parts), return_counts=True)

    return columns


# Words that say nothing about what a message is about, in the languages the default reads: greetings,
# thanks, sign-offs, reply/forward prefixes, test words. A message with no other word the model knows is
# contentless (``CategoryModel.content_words``) and is not given a category however confident the model is:
# its character n-grams alone made "Re:" a refund at 0.89 and "Danke" a complaint at 0.88.
FILLER_WORDS = frozenset(
    """
re fw fwd aw wg tr rv sv ref
hello hi hey hallo hola bonjour salut ciao buenos buenas dias tardes noches guten tag morgen abend
dear sir madam team all there lieber liebe sehr geehrte geehrter damen herren cher chère madame monsieur
estimado estimada estimados señor señora
thanks thank you thx ty cheers danke dankeschön vielen merci beaucoup gracias muchas
ok okay okey fine yes no ja nein oui non si vale bien gut
regards best kind greetings sincerely bye gruß grüße grüßen freundlichen mfg lg cordialement salutations
saludos atentamente adiós
test testing prueba essai asdf qwer qwerty foo bar lorem ipsum
see attached attachment anbei anhang ci joint pièce jointe adjunto adjunta
please pls bitte svp por favor
""".split()
)


@dataclass
class SecondStage:
    """The embeddings stage, consulted below ``threshold``: a logistic regression of one of two kinds.

    ``joint`` (trained since this kind existed): over [the first stage's TF-IDF features, ``weight`` x the
    sentence embedding], one linear model that reads both the words and their meaning. ``stack`` (older
    models, still loaded): over [sentence embedding, first-stage probabilities]. On Banking77 (5-fold
    cross-validation on its 3,080 test rows) the stack lifted TF-IDF from 0.864 to 0.882 and the joint model
    to 0.905 (``router/models/embeddings/README.md``): the probabilities keep too little of what the words said.

    ``threshold`` is the first stage's confidence under which the second stage answers, chosen on out-of-fold
    predictions at training time as the lowest one that keeps (within 0.1 point) the accuracy of asking the
    second stage always; ``embedder`` names the embedding model it was trained on; ``dim`` is the embedding's
    width (joint: the first ``dim`` coefficients of each class are the embedding's). ``blend`` is the share of
    the first stage's probabilities in the answer (0: the second stage's alone), chosen on the same out-of-fold
    predictions: a strong first stage (the network) still knows something the linear second stage does not.
    """

    clf: Any
    threshold: float
    embedder: str
    kind: str = "stack"
    weight: float = 1.0
    dim: int = 0
    blend: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("stack", "joint"):
            raise ValueError(f"unknown second-stage kind {self.kind!r}")
        if not 0.0 <= self.blend < 1.0:
            raise ValueError(f"a second stage's blend must be in [0, 1), got {self.blend}")
        coef = np.asarray(self.clf.coef_, dtype=np.float64)
        if self.kind == "joint":
            if not 0 < self.dim < coef.shape[1]:
                raise ValueError(f"a joint second stage needs 0 < dim < {coef.shape[1]}, got {self.dim}")
            # Column-major, as the first stage's: one TF-IDF feature's weights for all classes sit together,
            # so a message's few features are a gather of whole rows of the transpose (no copy of the matrix).
            if not self.clf.coef_.flags.f_contiguous:
                self.clf.coef_ = np.asfortranarray(self.clf.coef_)
            self._w_text = self.clf.coef_.T[self.dim :]
            self._w = np.ascontiguousarray(coef[:, : self.dim].T)
        else:
            self._w = np.ascontiguousarray(coef.T)
        self._b = np.asarray(self.clf.intercept_, dtype=np.float64)
        self._columns: np.ndarray | None = None
        self._width = 0

    def bind(self, labels: Sequence[str]) -> None:
        """Map the stage's classes onto the model's labels: it was trained on the rows the first stage was
        unsure of, which need not hold every label (a label it never saw gets probability 0 from it)."""
        index = {label: i for i, label in enumerate(labels)}
        try:
            self._columns = np.array([index[str(c)] for c in self.clf.classes_], dtype=np.intp)
        except KeyError as exc:
            raise ValueError(f"the second stage knows a label the first stage does not: {exc}") from None
        self._width = len(labels)

    def features(self, vectors: np.ndarray, first: np.ndarray) -> np.ndarray:
        return np.hstack([np.asarray(vectors, dtype=np.float64), np.asarray(first, dtype=np.float64)])

    def proba(self, vectors: np.ndarray, first: np.ndarray, text_features: Any = None) -> np.ndarray:
        """Class probabilities (rows, the model's label order) from embeddings and first-stage probabilities
        (stack) or the first stage's TF-IDF features (joint: a sparse matrix, or one message's
        ``(columns, values)``)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        if self.kind == "joint":
            if text_features is None:
                raise ValueError("a joint second stage needs the message's TF-IDF features")
            z = (vectors * self.weight) @ self._w + self._b
            if isinstance(text_features, tuple):
                idx, val = text_features
                if len(idx):
                    z = z + val @ self._w_text[idx]
            else:
                z = z + np.asarray(text_features @ self._w_text)
        else:
            first = np.atleast_2d(first)
            z = self.features(vectors, first) @ self._w + self._b
        if z.shape[1] == 1:  # a binary logistic regression: one score for classes_[1]
            z = np.hstack([np.zeros_like(z), z])
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        if self._columns is None:
            out = z
        else:
            out = np.zeros((z.shape[0], self._width))
            out[:, self._columns] = z
        if self.blend:
            out = (1.0 - self.blend) * out + self.blend * np.atleast_2d(np.asarray(first, dtype=np.float64))
        return out


_warned_unavailable = False


def _embedder_for(second: "SecondStage") -> Any:
    """The process's embedder when it is the one ``second`` was trained on, else None (logged once)."""
    global _warned_unavailable
    from helpline.router.categories import embeddings

    why = embeddings.missing()
    if why is None:
        emb = embeddings.get_embedder()
        if emb.name == second.embedder:
            return emb
        why = f"the model was trained on embeddings {second.embedder!r}, this install has {emb.name!r}"
    if not _warned_unavailable:
        _warned_unavailable = True
        log.warning("event=category_second_stage_off reason=%r; the TF-IDF stage answers alone", why)
    return None


@dataclass
class CategoryModel:
    """A fitted pipeline and its metadata (see ``model_store`` for the file format), and the optional
    embeddings stage."""

    pipeline: Any
    meta: dict[str, Any] = field(default_factory=dict)
    second: SecondStage | None = None

    def __post_init__(self) -> None:
        clf = self.pipeline[-1]
        self.labels: tuple[str, ...] = tuple(str(c) for c in clf.classes_)
        self._fast = _compile(self.pipeline)
        self._words = _word_reader(self.pipeline)
        if self.second is not None:
            self.second.bind(self.labels)

    # ---- identity -----------------------------------------------------------
    @property
    def version(self) -> Any:
        return self.meta.get("version")

    @property
    def version_label(self) -> str:
        """How reasons name this model: ``v3``, ``default``, or ``unsaved``."""
        v = self.version
        if v is None or v == "":
            return "unsaved"
        return f"v{v}" if isinstance(v, int) else str(v)

    @property
    def max_chars(self) -> int:
        return int(self.meta.get("max_chars", DEFAULT_MAX_CHARS))

    def text_of(self, subject: str | None, text: str | None) -> str:
        return compose_text(subject, text, self.max_chars)

    # ---- prediction ---------------------------------------------------------
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (columns in ``labels`` order) through scikit-learn, for batches; the
        second stage answers for the rows below its threshold."""
        texts = list(texts)
        if self.second is None or self.second.kind != "joint":
            proba = self.pipeline.predict_proba(texts)
        else:  # the joint stage reads the same TF-IDF features: vectorise once
            words = self.pipeline[0].transform(texts)
            proba = self.pipeline[-1].predict_proba(words)
        if self.second is not None and len(texts):
            low = np.flatnonzero(proba.max(axis=1) < self.second.threshold)
            emb = _embedder_for(self.second) if len(low) else None
            if emb is not None:
                joint = words[low] if self.second.kind == "joint" else None
                proba[low] = self.second.proba(emb.embed([texts[i] for i in low]), proba[low], joint)
        return proba

    def first_stage_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The TF-IDF model's probabilities alone (what the model says without the embeddings extra)."""
        return self.pipeline.predict_proba(list(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def predict_proba_one(self, text: str, *, second_stage: bool = True) -> np.ndarray:
        """Class probabilities of one composed text, about a millisecond or less (plus an embedding, a few
        ms, when the second stage answers; ``second_stage=False``: the first stage alone, as without the
        extra, for a desk that wants the pipeline's cost bounded whatever the model)."""
        if self._fast is None:
            if not second_stage:
                return self.first_stage_proba([text])[0]
            return self.predict_proba([text])[0]
        words: list[tuple[np.ndarray, np.ndarray]] = []
        proba = self._fast(text, words)
        if second_stage and self.second is not None and proba.max() < self.second.threshold:
            emb = _embedder_for(self.second)
            if emb is not None:
                return self.second.proba(emb.embed_one(text), proba, words[0] if words else None)[0]
        return proba

    def content_words(self, text: str) -> list[str] | None:
        """The words of ``text`` the model's word features know, fillers (``FILLER_WORDS``) left out; None when
        the model has no word features to ask (then nothing is judged contentless)."""
        if self._words is None:
            return None
        read, vocab = self._words
        return [w for w in read(text) if w not in FILLER_WORDS and w in vocab]

    def ranked(self, text: str, top: int = 2, *, second_stage: bool = True) -> list[tuple[str, float]]:
        proba = self.predict_proba_one(text, second_stage=second_stage)
        if top >= len(proba):
            order = np.argsort(-proba, kind="stable")
        else:
            part = np.argpartition(-proba, top)[:top]
            order = part[np.argsort(-proba[part], kind="stable")]
        return [(self.labels[i], float(proba[i])) for i in order[:top]]


def _word_reader(pipeline: Any) -> tuple[Callable[[str], list[str]], Any] | None:
    """(text -> its words as the word vectorizer reads them, that vectorizer's vocabulary), or None."""
    try:
        union = pipeline.steps[0][1]
        for name, vec in union.transformer_list:
            if name == "word" and getattr(vec, "analyzer", None) == "word":
                pre, tok = vec.build_preprocessor(), vec.build_tokenizer()
                return (lambda text, tok=tok, pre=pre: tok(pre(text))), vec.vocabulary_
    except (AttributeError, TypeError, IndexError):
        return None
    return None


# ---- the fast path ----------------------------------------------------------------
def _linear_head(clf: Any) -> tuple[Any, str, float] | None:
    """(fitted linear model, how scores become probabilities, inverse temperature) of the classifier step;
    for a network with one ReLU hidden layer and a softmax output, the network and ``"mlp"``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if isinstance(clf, LogisticRegression):
        return clf, "softmax", 1.0
    if isinstance(clf, MLPClassifier):
        if clf.n_layers_ == 3 and clf.activation == "relu" and clf.out_activation_ == "softmax":
            return clf, "mlp", 1.0
        return None
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    if (
        isinstance(clf, CalibratedClassifierCV)
        and clf.method == "temperature"
        and len(clf.calibrated_classifiers_) == 1
    ):
        inner = clf.calibrated_classifiers_[0]
        if (
            isinstance(inner.estimator, LinearSVC)
            and len(inner.calibrators) == 1
            and list(inner.estimator.classes_) == list(clf.classes_)
        ):
            return inner.estimator, "temperature", float(inner.calibrators[0].beta_)
    return None


def _compile(pipeline: Any) -> Callable[..., np.ndarray] | None:
    """Build the single-message predictor, or None when the pipeline is not of our shape."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        if len(pipeline.steps) != 2:
            return None
        union = pipeline.steps[0][1]
        head = _linear_head(pipeline.steps[1][1])
        if not isinstance(union, FeatureUnion) or head is None:
            return None
        linear, link, beta = head
        # a network: the output layer's (weights, intercept), applied after the ReLU of the gathered first layer
        hidden: tuple[np.ndarray, np.ndarray] | None = None
        if link == "mlp":
            hidden = (
                np.asarray(linear.coefs_[1], dtype=np.float64),
                np.asarray(linear.intercepts_[1], dtype=np.float64),
            )
            link = "softmax"
        weights = union.transformer_weights or {}
        blocks: list[_Block] = []
        offset = 0
        for name, vec in union.transformer_list:
            if vec == "drop":
                continue
            if type(vec) is not TfidfVectorizer or vec.binary or vec.norm not in ("l2", None):
                return None
            idf = np.asarray(vec.idf_, dtype=np.float64) if vec.use_idf else None
            blocks.append(
                _Block(
                    vec.build_analyzer(),
                    vec.vocabulary_,
                    idf,
                    offset,
                    float(weights.get(name, 1.0)),
                    bool(vec.sublinear_tf),
                    vec.norm,
                    _char_wb_columns(vec),
                )
            )
            offset += len(vec.vocabulary_)
        if hidden is not None:
            # the first layer is gathered like a linear model's coefficients: features x hidden, a feature's row
            # contiguous already
            weights_t = np.asarray(linear.coefs_[0])
            intercept = np.asarray(linear.intercepts_[0], dtype=np.float64)
            binary = False
        else:
            coef = linear.coef_
            # Column-major coefficients: coef.T is then C-contiguous, so one feature's
            # weights for all classes sit together and a gather reads whole rows.
            # Same values, same memory; scikit-learn's own products accept either order.
            if not coef.flags.f_contiguous:
                linear.coef_ = coef = np.asfortranarray(coef)
            weights_t = coef.T
            intercept = np.asarray(linear.intercept_, dtype=np.float64).reshape(-1)
            binary = coef.shape[0] == 1
        if weights_t.shape[0] != offset:
            return None
    except (AttributeError, TypeError, ValueError, ImportError):
        return None

    def predict_one(text: str, keep: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
        """Probabilities of one text; ``keep``, when given, receives its (columns, values) of the TF-IDF
        features (a joint second stage reads them instead of computing them again)."""
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for b in blocks:
            if b.columns is not None:
                idx, tf = b.columns(text)
                if not len(idx):
                    continue
                tf = tf.astype(np.float64)
            else:
                counts = Counter(map(b.vocabulary.get, b.analyzer(text)))
                counts.pop(None, None)
                if not counts:
                    continue
                idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if b.sublinear:
                tf = np.log(tf) + 1.0
            if b.idf is not None:
                tf = tf * b.idf[idx]
            if b.norm == "l2":
                n = math.sqrt(float(tf @ tf))
                if n > 0.0:
                    tf = tf / n
            if b.weight != 1.0:
                tf = tf * b.weight
            cols.append(idx + b.offset)
            vals.append(tf)
        if cols:
            idx = np.concatenate(cols) if len(cols) > 1 else cols[0]
            val = np.concatenate(vals) if len(vals) > 1 else vals[0]
            scores = val @ weights_t[idx] + intercept
        else:
            idx, val = np.empty(0, dtype=np.intp), np.empty(0)
            scores = intercept.copy()
        if keep is not None:
            keep.append((idx, val))
        if hidden is not None:
            np.maximum(scores, 0.0, out=scores)
            scores = scores @ hidden[0] + hidden[1]
        if binary:
            z = float(scores[0])
            if link == "softmax":  # binary logistic regression: sigmoid of the one score
                p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
                return np.array([1.0 - p, p])
            scores = np.array([-z, z])
        if beta != 1.0:
            scores = scores * beta
        scores = scores - scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        return scores

    return predict_one
