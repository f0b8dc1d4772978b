"""Training and evaluation of the category model.

``train`` fits word (1-2) and char_wb (2-5) n-gram TF-IDF (sublinear tf) into a
class-balanced LinearSVC whose scores are turned into probabilities by
temperature scaling (``CalibratedClassifierCV(method="temperature",
ensemble=False)``); ``classifier="logreg"`` fits a multinomial logistic
regression instead, ``classifier="mlp"`` a network with one hidden ReLU layer on
the same features (``mlp.py``: its number of epochs takes C's place), and
``classifier="auto"`` cross-validates all three on the same folds and keeps the
best. C is chosen by stratified k-fold cross-validation on the
training rows only (macro-F1; every (fold, C) fit a task, two at a time; the
grid starts at three values and walks outwards while its edge wins). The
out-of-fold predictions at the chosen C are the held-out metrics in the
metadata (``holdout=0.2`` keeps a fifth of the rows out of everything instead),
and the same out-of-fold scores fit the temperature, so no fold is fitted twice.
Everything is seeded: the same data and options give the same model.

The vectorizers are fitted once on all training texts (no labels are used) and
the folds reuse that matrix, which keeps ten thousand rows to seconds on two
cores. ``model bench`` measures it.

With the ``embeddings`` extra installed (``TrainOptions.embeddings``: auto, on,
off) a second stage is stacked on the first: every row's sentence embedding
joined to its out-of-fold first-stage probabilities trains a logistic
regression (C by the same folds), and the first-stage confidence below which
it answers is calibrated on the two stages' out-of-fold predictions
(``_second_stage``). The held-out metrics are then the two stages' together.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import platform
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from helpline.router.categories.category import CATEGORY_CONFIRMED, CATEGORY_CORRECTED
from helpline.router.categories.category_model import (
    DEFAULT_MAX_CHARS,
    TEXT_PREP,
    CategoryModel,
    SecondStage,
    compose_text,
)

# An agent's verdict on a ticket's category (see ``category.label_event``): the labelled
# examples of ``train --from-tickets``.
LABEL_EVENTS = (CATEGORY_CONFIRMED, CATEGORY_CORRECTED)

BITEXT_ATTRIBUTION = {
    "title": "Bitext - Customer Service Tagged Training Dataset for Intent Detection",
    "license": "CDLA-Sharing-1.0",
    "notice": "(c) Bitext Innovations, 2022 (bitext.com), used under CDLA-Sharing-1.0. The model is a Result "
    "under CDLA-Sharing-1.0; the data's licence text and source notice are shipped beside it "
    "(LICENSE, SOURCE.md).",
    "source": "github.com/bitext/customer-support-intent-detection-training-dataset "
    "(commit e970229e6473109417301b5edddb283917a10aac)",
}
BITEXT_TRAIN = "Bitext_Sample_Customer_Service_Training_Dataset.csv"
BITEXT_VALIDATION = "Bitext_Sample_Customer_Service_Validation_Dataset.csv"
BITEXT_TEST = "Bitext_Sample_Customer_Service_Testing_Dataset.csv"


class TrainingError(ValueError):
    """The data cannot train a model (too few rows or labels, missing columns); the message says why."""


# ---- data -------------------------------------------------------------------------
@dataclass
class Dataset:
    subjects: list[str]
    texts: list[str]
    labels: list[str]
    source: str = ""
    source_sha256: str = ""
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    def composed(self, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
        return [compose_text(s, t, max_chars) for s, t in zip(self.subjects, self.texts, strict=True)]

    def sha256(self, max_chars: int = DEFAULT_MAX_CHARS) -> str:
        """Hash of the examples as the model sees them, whatever file they came from."""
        h = hashlib.sha256()
        for text, label in zip(self.composed(max_chars), self.labels, strict=True):
            h.update(label.encode("utf-8") + b"\t" + text.encode("utf-8") + b"\n")
        return h.hexdigest()

    def take(self, rows: Sequence[int]) -> "Dataset":
        return Dataset(
            [self.subjects[i] for i in rows],
            [self.texts[i] for i in rows],
            [self.labels[i] for i in rows],
            self.source,
            self.source_sha256,
        )


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_csv(path: str | Path, text_column: str, label_column: str, subject_column: str | None = None) -> Dataset:
    """Rows of a CSV file (UTF-8, header row); rows without a label or without any text are skipped."""
    csv.field_size_limit(sys.maxsize)
    subjects: list[str] = []
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        for col in (text_column, label_column, subject_column):
            if col and col not in columns:
                raise TrainingError(f"{path}: no column {col!r} (columns: {', '.join(columns)})")
        for row in reader:
            label = (row.get(label_column) or "").strip()
            text = row.get(text_column) or ""
            subject = (row.get(subject_column) or "") if subject_column else ""
            if not label or not (text.strip() or subject.strip()):
                skipped += 1
                continue
            subjects.append(subject)
            texts.append(text)
            labels.append(label)
    return Dataset(subjects, texts, labels, str(path), file_sha256(path), skipped)


def examples_from_tickets(limit: int | None = None) -> Dataset:
    """Labelled examples from tickets whose category an agent confirmed or corrected.

    The label is the category of the ticket's latest ``category_confirmed`` /
    ``category_corrected`` event (the ticket's own category when the event has
    none); the text is the ticket's subject and its first customer message.
    The database must be initialised (``helpline.store.db.init``).
    """
    from helpline.store.tickets import category_labels  # the training command alone needs the database

    latest: dict[int, str] = {}
    for ticket_id, data, ticket_category in category_labels.verdicts(LABEL_EVENTS):
        label = (data or {}).get("category") if isinstance(data, dict) else None
        label = label or ticket_category
        if label:
            latest[ticket_id] = str(label)
    ids = sorted(latest)
    if limit:
        ids = ids[-limit:]
    subjects: list[str] = []
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    texts_of = category_labels.texts(ids)
    for tid in ids:
        subject, text = texts_of.get(tid, ("", ""))
        if not (subject.strip() or text.strip()):
            skipped += 1
            continue
        subjects.append(subject)
        texts.append(text)
        labels.append(latest[tid])
    return Dataset(subjects, texts, labels, "tickets", "", skipped)


# ---- the pipeline --------------------------------------------------------------------
CLASSIFIERS = ("svm", "logreg", "mlp", "auto")
# C is searched on this ladder: the cross-validation starts with three values around the usual
# optimum and walks outwards while the best value sits at an edge, up to the classifier's bounds.
C_LADDER: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
C_START: dict[str, tuple[float, ...]] = {"svm": (0.3, 1.0, 3.0), "logreg": (3.0, 10.0, 30.0)}
C_BOUNDS: dict[str, tuple[float, float]] = {"svm": (0.03, 10.0), "logreg": (0.3, 300.0)}


@dataclass(frozen=True)
class TrainOptions:
    """How to train. ``Cs=()`` means the classifier's default grid; ``min_df=0`` means 1 below
    ``MIN_DF_ROWS`` rows and 2 from there (an n-gram seen once in a large set is mostly noise and
    only grows the model); ``holdout=0`` takes the held-out metrics from the cross-validation's
    out-of-fold predictions, so that every row also trains the saved model."""

    classifier: str = "svm"
    Cs: tuple[float, ...] = ()
    folds: int = 3
    holdout: float = 0.0
    min_df: int = 0
    max_df: float = 1.0
    max_chars: int = DEFAULT_MAX_CHARS
    n_jobs: int = 2
    random_state: int = 0
    # "auto": add the embeddings stage when the extra is installed; "on": require it; "off": TF-IDF alone.
    # The command line's default is "auto"; code that builds options says what it wants.
    embeddings: str = "off"


MIN_DF_ROWS = 5000
# liblinear's dual coordinate descent converges slowly at large C on many classes; past a few
# hundred passes the scores no longer change the ranking, only the training time.
MAX_ITER_SVM = 300


def build_features(min_df: int = 1, max_df: float = 1.0) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, max_df=max_df)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df, max_df=max_df
                ),
            ),
        ]
    )


def _base_classifier(kind: str, C: float, random_state: int) -> Any:
    if kind == "svm":
        from sklearn.svm import LinearSVC

        return LinearSVC(C=C, class_weight="balanced", dual=True, max_iter=MAX_ITER_SVM, random_state=random_state)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=500, random_state=random_state)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence convergence and tiny-class warnings (training reports its own figures)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _scores(clf: Any, X: Any, classes: np.ndarray) -> np.ndarray:
    """Decision scores (svm) or probabilities (logreg) with one column per class of ``classes``;
    a class the fold's model never saw scores -inf."""
    raw = (
        clf.decision_function(X)
        if hasattr(clf, "decision_function") and not hasattr(clf, "predict_proba")
        else clf.predict_proba(X)
    )
    if raw.ndim == 1:  # binary decision function: score of classes_[1]
        raw = np.column_stack([-raw, raw])
    if len(clf.classes_) == len(classes):
        return np.asarray(raw, dtype=np.float64)
    out = np.full((raw.shape[0], len(classes)), -np.inf)
    out[:, np.searchsorted(classes, clf.classes_)] = raw
    return out


def _fold_fit(
    kind: str,
    X: Any,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    C: float,
    classes: np.ndarray,
    random_state: int,
) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with _quiet(), threadpool_limits(limits=1):
        clf = _base_classifier(kind, C, random_state)
        clf.fit(X[train_idx], y[train_idx])
        return _scores(clf, X[test_idx], classes)


def _folds(y: np.ndarray, options: TrainOptions) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    _, counts = np.unique(y, return_counts=True)
    k = max(2, min(options.folds, int(counts.min())))
    return list(StratifiedKFold(k, shuffle=True, random_state=options.random_state).split(np.zeros(len(y)), y))


def cross_validate(
    X: Any, y: np.ndarray, options: TrainOptions
) -> tuple[float, list[dict[str, float]], np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Choose C by stratified k-fold cross-validation on (X, y): macro-F1 averaged over the folds,
    then accuracy, then the smaller C. Every (fold, C) fit runs as its own task, ``n_jobs`` at a time.
    With ``options.Cs`` empty the grid starts at ``C_START`` and grows along ``C_LADDER`` while the
    best C is at its edge (within ``C_BOUNDS``).

    Returns the chosen C, the grid's figures, the out-of-fold scores at the chosen C (rows of X,
    one column per class) and the splits.
    """
    from joblib import Parallel, delayed
    from sklearn.metrics import accuracy_score, f1_score

    classes = np.unique(y)
    splits = _folds(y, options)
    adaptive = not options.Cs
    pending = sorted(float(c) for c in (options.Cs or C_START[options.classifier]))
    low, high = C_BOUNDS[options.classifier]
    scores: dict[tuple[float, int], np.ndarray] = {}
    figures: dict[float, dict[str, float]] = {}
    # Processes, not threads: liblinear draws its coordinate order from one generator per process,
    # so two fits in threads of one process interleave their draws and the result is not reproducible.
    jobs = max(1, min(options.n_jobs, len(splits) * len(pending)))
    with Parallel(n_jobs=jobs, prefer="processes" if options.classifier == "svm" else "threads") as parallel:
        while pending:
            tasks = [(C, j) for C in pending for j in range(len(splits))]
            with _quiet():  # threads share the process's warning filters; processes set their own
                results = parallel(
                    delayed(_fold_fit)(
                        options.classifier, X, y, splits[j][0], splits[j][1], C, classes, options.random_state
                    )
                    for C, j in tasks
                )
            scores.update(zip(tasks, results, strict=True))
            for C in pending:
                f1s, accs = [], []
                for j, (_, test_idx) in enumerate(splits):
                    pred = classes[scores[C, j].argmax(axis=1)]
                    f1s.append(f1_score(y[test_idx], pred, average="macro", zero_division=0))
                    accs.append(accuracy_score(y[test_idx], pred))
                figures[C] = {
                    "C": C,
                    "macro_f1": round(float(np.mean(f1s)), 6),
                    "accuracy": round(float(np.mean(accs)), 6),
                }
            tried = sorted(figures)
            best = max(tried, key=lambda c: (figures[c]["macro_f1"], figures[c]["accuracy"], -c))
            pending = []
            if adaptive and len(tried) > 1:
                # walk on only while the edge is strictly better than its neighbour (ties stop the walk)
                step = C_LADDER.index(best) if best in C_LADDER else -1
                if (
                    best == tried[0]
                    and figures[best]["macro_f1"] > figures[tried[1]]["macro_f1"]
                    and step > 0
                    and C_LADDER[step - 1] >= low
                ):
                    pending = [C_LADDER[step - 1]]
                elif (
                    best == tried[-1]
                    and figures[best]["macro_f1"] > figures[tried[-2]]["macro_f1"]
                    and 0 <= step < len(C_LADDER) - 1
                    and C_LADDER[step + 1] <= high
                ):
                    pending = [C_LADDER[step + 1]]
    oof = np.zeros((len(y), len(classes)))
    for j, (_, test_idx) in enumerate(splits):
        oof[test_idx] = scores[best, j]
    return best, [figures[c] for c in sorted(figures)], oof, splits


def _mlp_fold(
    X: Any,
    yi: np.ndarray,
    n_classes: int,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    wanted: tuple[int, ...],
    seed: int,
) -> dict[int, np.ndarray]:
    """One fold of the network's cross-validation: its test rows' probabilities after each epoch count of
    ``wanted``, from one run."""
    from helpline.router.categories import mlp

    out: dict[int, np.ndarray] = {}
    X_test = X[test_idx]

    def score(epoch: int, weights: Any) -> None:
        if epoch in wanted:
            out[epoch] = mlp.forward(weights, X_test)

    mlp.fit(X[train_idx], yi[train_idx], n_classes, max(wanted), seed=seed, on_epoch=score)
    return out


def cross_validate_mlp(
    X: Any, y: np.ndarray, options: TrainOptions
) -> tuple[float, list[dict[str, float]], np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The network's counterpart of :func:`cross_validate`: the same folds, one run per fold scored after each
    epoch count of ``mlp.epochs_to_try`` (or of ``options.Cs``); the epochs chosen by macro-F1, then accuracy, then fewer epochs. Returns
    (epochs, grid, out-of-fold probabilities at those epochs, splits) in ``cross_validate``'s shape, the
    epochs in the place of C."""
    from joblib import Parallel, delayed
    from sklearn.metrics import accuracy_score, f1_score

    from helpline.router.categories import mlp

    classes = np.unique(y)
    yi = np.searchsorted(classes, y)
    splits = _folds(y, options)
    # ``Cs`` given: the epoch counts to try (as many epochs as their largest, scored at each)
    wanted = tuple(sorted({max(1, int(c)) for c in options.Cs})) or mlp.epochs_to_try(len(splits[0][0]))
    # threads: scipy's sparse products and numpy's release the GIL
    with Parallel(n_jobs=max(1, min(options.n_jobs, len(splits))), prefer="threads") as parallel:
        runs = parallel(
            delayed(_mlp_fold)(X, yi, len(classes), tr, te, wanted, options.random_state + j)
            for j, (tr, te) in enumerate(splits)
        )
    figures: dict[int, dict[str, float]] = {}
    for e in sorted(runs[0]):
        f1s, accs = [], []
        for run, (_, te) in zip(runs, splits, strict=True):
            pred = classes[run[e].argmax(axis=1)]
            f1s.append(f1_score(y[te], pred, average="macro", zero_division=0))
            accs.append(accuracy_score(y[te], pred))
        figures[e] = {
            "C": float(e),
            "epochs": e,
            "macro_f1": round(float(np.mean(f1s)), 6),
            "accuracy": round(float(np.mean(accs)), 6),
        }
    best = max(figures, key=lambda e: (figures[e]["macro_f1"], figures[e]["accuracy"], -e))
    oof = np.zeros((len(y), len(classes)))
    for run, (_, te) in zip(runs, splits, strict=True):
        oof[te] = run[best]
    return float(best), [figures[e] for e in sorted(figures)], oof, splits


def _cross_validate(
    X: Any, y: np.ndarray, options: TrainOptions
) -> tuple[float, list[dict[str, float]], np.ndarray, list[Any]]:
    if options.classifier == "mlp":
        return cross_validate_mlp(X, y, options)
    return cross_validate(X, y, options)


def _calibrated(
    kind: str,
    C: float,
    X: Any,
    y: np.ndarray,
    oof: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    options: TrainOptions,
) -> Any:
    """The final classifier, fitted on all of (X, y).

    svm: ``CalibratedClassifierCV(LinearSVC(C), method="temperature", ensemble=False)``: one
    LinearSVC on all rows whose decision scores pass through softmax(beta x score), beta fitted on
    the out-of-fold scores of the same splits. Those scores are the cross-validation's at the
    chosen C (same splits, same seed, so the same numbers ``cross_val_predict`` would compute),
    which saves refitting every fold. Temperature scaling keeps the SVM's ranking, so accuracy is
    the SVM's, and it gives probabilities that a threshold can be set on.
    """
    if kind == "logreg":
        clf = _base_classifier(kind, C, options.random_state)
        clf.fit(X, y)
        return clf
    if kind == "mlp":  # C is the number of epochs the cross-validation chose
        from helpline.router.categories import mlp

        classes = np.unique(y)
        weights = mlp.fit(X, np.searchsorted(classes, y), len(classes), int(C), seed=options.random_state)
        return mlp.as_estimator(weights, classes)
    from sklearn.calibration import CalibratedClassifierCV

    cal = CalibratedClassifierCV(
        _base_classifier(kind, C, options.random_state), method="temperature", cv=splits, ensemble=False
    )
    try:
        from sklearn.calibration import _CalibratedClassifier, _TemperatureScaling
    except ImportError:  # another scikit-learn layout: let it refit the folds itself (slower, same model)
        return cal.fit(X, y)
    svm = _base_classifier(kind, C, options.random_state).fit(X, y)
    classes = np.unique(y)
    finite = np.isfinite(oof).all(axis=1)
    logits = oof if len(classes) > 2 else oof[:, 1]
    scaler = _TemperatureScaling().fit(logits[finite], np.searchsorted(classes, y[finite]))
    # What CalibratedClassifierCV.fit(X, y) leaves behind, built from the parts computed above
    # (a test checks it against CalibratedClassifierCV.fit itself).
    cal.classes_ = classes
    cal.calibrated_classifiers_ = [_CalibratedClassifier(svm, [scaler], classes=classes, method="temperature")]
    cal.n_features_in_ = svm.n_features_in_
    return cal


def _holdout_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified: floor(fraction x n) rows of each class are held out, so every class keeps rows to train on."""
    rng = np.random.RandomState(seed)
    held: list[np.ndarray] = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        k = int(len(rows) * fraction)
        if k:
            held.append(rng.permutation(rows)[:k])
    held_idx = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.intp)
    mask = np.ones(len(y), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Iterable[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: true)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = [str(v) for v in y_true]
    y_pred = [str(v) for v in y_pred]
    all_labels = sorted(set(str(v) for v in (labels if labels is not None else ())) | set(y_true) | set(y_pred))
    present = sorted(set(y_true))  # macro averages over the classes the data has
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=all_labels, zero_division=0)
    _, _, f_macro, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    _, _, f_weighted, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=present, average="weighted", zero_division=0
    )
    cm = confusion_matrix(y_true, y_pred, labels=all_labels)
    correct = sum(1 for a, b in zip(y_true, y_pred, strict=True) if a == b)
    return {
        "rows": len(y_true),
        "accuracy": round(correct / len(y_true), 6) if y_true else 0.0,
        "macro_f1": round(float(f_macro), 6),
        "weighted_f1": round(float(f_weighted), 6),
        "per_class": {
            lab: {
                "precision": round(float(p[i]), 6),
                "recall": round(float(r[i]), 6),
                "f1": round(float(f[i]), 6),
                "support": int(s[i]),
            }
            for i, lab in enumerate(all_labels)
        },
        "confusion": {"labels": all_labels, "matrix": cm.tolist()},
    }


def evaluate(model: CategoryModel, data: Dataset, batch: int = 2000) -> dict[str, Any]:
    """The model's metrics on labelled data (text prepared as for prediction)."""
    texts = data.composed(model.max_chars)
    pred: list[str] = []
    for start in range(0, len(texts), batch):
        pred.extend(model.predict(texts[start : start + batch]))
    out = metrics(data.labels, pred, model.labels)
    out["unknown_labels"] = sorted(set(data.labels) - set(model.labels))
    return out


def library_versions() -> dict[str, str]:
    import joblib
    import scipy
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "skops": skops.__version__,
        "joblib": joblib.__version__,
    }


AUTO_KINDS: tuple[str, ...] = ("svm", "logreg", "mlp")


def _choose_classifier(
    X: Any, X_fit: Any, y_fit: np.ndarray, options: TrainOptions, say: Callable[[str], None]
) -> tuple[TrainOptions, Any, Any, tuple[float, list[dict[str, float]], np.ndarray, list[Any]], dict[str, Any]]:
    """``classifier="auto"``: cross-validate the classifiers of ``AUTO_KINDS`` on the same folds and keep the
    best by macro-F1, then accuracy, then the quicker (svm, logreg, mlp in that order). None wins everywhere:
    on Banking77's 77 close intents the multinomial logistic regression beat the one-vs-rest SVM by about a
    point and the network beat both (official split, held out: SVM 0.9149, logistic regression 0.9146, network
    see router/models/embeddings/README.md); on Bitext's 27 intents they tie. Costs the logistic regression's
    and the network's cross-validation on top of the SVM's (40,000 rows: see the README's training times)."""
    fit32 = X_fit.astype(np.float32)  # what the logistic regression and the network are fitted on (see _train)
    results, seconds = {}, {}
    for kind in AUTO_KINDS:
        t0 = time.perf_counter()
        results[kind] = _cross_validate(X_fit if kind == "svm" else fit32, y_fit, replace(options, classifier=kind))
        seconds[kind] = round(time.perf_counter() - t0, 1)
    # each classifier's figures at the parameter (C, or the network's epochs) its cross-validation chose
    best_of = {kind: next(g for g in grid if g["C"] == C) for kind, (C, grid, _oof, _splits) in results.items()}
    kind = max(
        AUTO_KINDS,
        key=lambda k: (best_of[k]["macro_f1"], best_of[k]["accuracy"], -AUTO_KINDS.index(k)),
    )
    say(
        "classifier by cross-validation: "
        + ", ".join(f"{k} macro-F1 {best_of[k]['macro_f1']:.4f} ({seconds[k]:.0f}s)" for k in AUTO_KINDS)
        + f"; kept {kind}"
    )
    choice = {
        k: {"macro_f1": best_of[k]["macro_f1"], "accuracy": best_of[k]["accuracy"], "seconds": seconds[k]}
        for k in best_of
    }
    choice["chosen"] = kind  # type: ignore[assignment]
    if kind != "svm":
        X, X_fit = (fit32 if X is X_fit else X.astype(np.float32)), fit32
    return replace(options, classifier=kind), X, X_fit, results[kind], choice


def train(
    data: Dataset,
    options: TrainOptions = TrainOptions(),
    *,
    attribution: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> CategoryModel:
    """Fit the pipeline on ``data``; the model's ``meta`` holds what ``model_store`` writes next to it."""
    from threadpoolctl import threadpool_limits

    if options.classifier not in CLASSIFIERS:
        raise TrainingError(f"classifier must be one of {', '.join(CLASSIFIERS)}, not {options.classifier!r}")
    # Parallelism comes from the cross-validation tasks (n_jobs threads); a multi-threaded
    # BLAS under them only spins against the other tasks (measured: up to 3x slower).
    with threadpool_limits(limits=1):
        return _train(data, options, attribution, log or (lambda _msg: None))


def _train(
    data: Dataset, options: TrainOptions, attribution: dict[str, Any] | None, say: Callable[[str], None]
) -> CategoryModel:
    from sklearn.pipeline import Pipeline

    started = time.perf_counter()
    texts = np.asarray(data.composed(options.max_chars), dtype=object)
    y = np.asarray(data.labels, dtype=object).astype(str)
    classes, counts = np.unique(y, return_counts=True)
    # A label seen once can be neither cross-validated nor calibrated, nor learned with any
    # confidence: it is left out, and the metadata says so.
    dropped = {str(c): int(n) for c, n in zip(classes, counts, strict=True) if n < 2}
    if dropped:
        keep = ~np.isin(y, list(dropped))
        texts, y = texts[keep], y[keep]
        classes, counts = np.unique(y, return_counts=True)
        say(f"left out {len(dropped)} label(s) with a single example: {', '.join(sorted(dropped))}")
    if len(classes) < 2:
        raise TrainingError(
            f"need at least two labels with two or more examples each, got {len(classes)}"
            + (f" ({', '.join(classes)})" if len(classes) else "")
        )

    min_df = options.min_df or (1 if len(y) < MIN_DF_ROWS else 2)
    with _quiet():
        features = build_features(min_df, options.max_df)
        X = features.fit_transform(list(texts)).tocsr()
    if options.classifier in ("logreg", "mlp"):
        X = X.astype(np.float32)  # lbfgs's sparse products run ~1.5x faster; liblinear (svm) wants float64
    t_vec = time.perf_counter() - started
    say(f"vectorised {len(y)} rows into {X.shape[1]} features in {t_vec:.1f}s")

    fit_idx, held_idx = _holdout_split(y, options.holdout, options.random_state)
    if len(held_idx):
        X_fit, y_fit = X[fit_idx], y[fit_idx]
    else:
        X_fit, y_fit = X, y
    choice: dict[str, dict[str, float]] = {}
    if options.classifier == "auto":
        options, X, X_fit, (C, grid, oof, splits), choice = _choose_classifier(X, X_fit, y_fit, options, say)
    else:
        C, grid, oof, splits = _cross_validate(X_fit, y_fit, options)
    t_cv = time.perf_counter() - started - t_vec
    say(f"C={C:g} by {len(splits)}-fold cross-validation over {len(grid)} values in {t_cv:.1f}s")

    with _quiet():
        clf = _calibrated(options.classifier, C, X_fit, y_fit, oof, splits, options)
    embedder = _training_embedder(options, say)
    second: SecondStage | None = None
    second_meta: dict[str, Any] | None = None
    oof_pred = oof.argmax(axis=1)
    if embedder is not None:
        t0 = time.perf_counter()
        fit_texts = [str(t) for t in texts[fit_idx]] if len(held_idx) else [str(t) for t in texts]
        first_oof = _first_stage_oof(clf, oof, options.classifier)
        second, second_meta, oof_pred = _second_stage(
            fit_texts, embedder, first_oof, y_fit, classes, splits, options, X_fit
        )
        second_meta["seconds"] = round(time.perf_counter() - t0, 2)
        if second is None:
            say(f"no second stage: {second_meta['reason']}")
        else:
            say(
                f"second stage: embedded {second_meta['embedded_rows']} of the {second_meta['unsure_rows']} rows "
                "the TF-IDF model was unsure of, "
                f"C={second_meta['C']:g}, threshold {second.threshold:g} (embeddings for "
                f"{second_meta['embedded_share']:.0%} of rows), out-of-fold accuracy "
                f"{second_meta['accuracy_first_stage']:.4f} -> {second_meta['accuracy_two_stages']:.4f} "
                f"in {second_meta['seconds']:.1f}s"
            )
    if len(held_idx):
        proba = clf.predict_proba(X[held_idx])
        if second is not None and embedder is not None:
            low = np.flatnonzero(proba.max(axis=1) < second.threshold)
            if len(low):
                proba[low] = second.proba(
                    embedder.embed([str(t) for t in texts[held_idx][low]]), proba[low], X[held_idx][low]
                )
        held_out = metrics(y[held_idx], classes[proba.argmax(axis=1)], classes)
        held_out["method"] = (
            f"stratified {options.holdout:.0%} of the rows, held out from cross-validation "
            "and from the fit of this model"
        )
    else:
        held_out = metrics(y_fit, classes[oof_pred], classes)
        held_out["method"] = (
            f"out-of-fold predictions of {len(splits)}-fold stratified cross-validation at the "
            "chosen C: each row predicted by a model that did not train on it"
        )
    for _, vec in features.transformer_list:
        if hasattr(vec, "stop_words_"):
            del vec.stop_words_  # the pruned n-grams: large and not needed to predict
    pipeline = Pipeline([("features", features), ("clf", clf)])
    seconds = time.perf_counter() - started
    say(f"trained in {seconds:.1f}s")
    if options.classifier == "svm":
        classifier = (
            "LinearSVC (one-vs-rest, squared hinge), class_weight=balanced, "
            "calibrated by temperature scaling on out-of-fold scores"
        )
    elif options.classifier == "logreg":
        classifier = "LogisticRegression (multinomial, lbfgs), class_weight=balanced"
    else:
        classifier = (
            f"one hidden layer of {clf.coefs_[0].shape[1]} ReLU units, softmax, class-balanced, dropout, "
            f"lazy Adam for {C:g} epochs (router/categories/mlp.py)"
        )
    meta: dict[str, Any] = {
        "format": 1,
        "kind": "helpline-category-model",
        "version": None,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "labels": [str(c) for c in classes],
        "label_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
        "dropped_labels": dropped,
        "training_rows": int(len(y_fit)),
        "training_data_sha256": data.sha256(options.max_chars),
        "source": data.source,
        "source_sha256": data.source_sha256,
        "held_out_metrics": held_out,
        "cross_validation": {
            "folds": len(splits),
            "scoring": "macro_f1",
            "grid": grid,
            "chosen_C": C,
            **({"classifiers": choice} if choice else {}),
        },
        "pipeline": {
            "features": [
                "word n-grams (1, 2), TF-IDF, sublinear tf, l2",
                "char_wb n-grams (2, 5), TF-IDF, sublinear tf, l2",
            ],
            "min_df": min_df,
            "n_features": int(X.shape[1]),
            "classifier": classifier,
            "C": C,
        },
        "text_prep": TEXT_PREP,
        "max_chars": options.max_chars,
        "random_state": options.random_state,
        "train_seconds": round(seconds, 2),
        "libraries": library_versions(),
        "attribution": attribution,
    }
    if second_meta is not None and second is not None:
        meta["second_stage"] = second_meta
        meta["pipeline"]["features"].append(
            f"second stage below confidence {second_meta['threshold']:g}: logistic regression over the "
            f"TF-IDF features + {second.weight:g} x the {second_meta['embedder']} sentence embedding"
        )
    return CategoryModel(pipeline, meta, second)


# ---- the embeddings stage ----------------------------------------------------------------
# The joint stage's C grid and the embedding's weight against the TF-IDF blocks (each of unit norm):
# on Banking77 (5-fold cross-validation on its 3,080 test rows) weight 1 gave 0.902, 2 gave 0.908,
# 3 gave 0.899; C 30 was best, 10 within 0.2 point.
SECOND_CS: tuple[float, ...] = (10.0, 30.0)
EMBEDDING_WEIGHT = 2.0
MAX_ITER_SECOND = 300
# First-stage confidences below which the second stage may be asked; only the training rows whose
# out-of-fold confidence is below the highest are embedded (the others could never ask it), which
# keeps training time close to TF-IDF's where the first stage is mostly sure.
THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
# The threshold is the lowest whose out-of-fold accuracy is within this of the best threshold's.
THRESHOLD_TOLERANCE = 0.001
# Shares of the first stage's probabilities in the second stage's answer, tried on the out-of-fold predictions.
# On Banking77's own split with the network as first stage (scored on its test rows): 0 gave 0.9377-0.9396 at
# thresholds 0.7-0.8, 0.3 gave 0.9393-0.9419, 0.5 0.9383-0.9396.
BLENDS: tuple[float, ...] = (0.0, 0.25, 0.5)
MIN_SECOND_STAGE_ROWS = 20
# At most this many unsure rows are embedded and train the second stage (a seeded sample beyond it): on 40,000
# ticket-length rows of which 38,416 were unsure, embedding and cross-validating them all took 368 s of a
# 905 s training; the stage's accuracy grows little past a few thousand rows.
MAX_SECOND_STAGE_ROWS = 8000


def _training_embedder(options: TrainOptions, say: Callable[[str], None]) -> Any:
    """An embedder for training (``n_jobs`` threads), None when the option or the install says no."""
    if options.embeddings not in ("auto", "on", "off"):
        raise TrainingError(f"embeddings must be auto, on or off, not {options.embeddings!r}")
    if options.embeddings == "off":
        return None
    from helpline.router.categories import embeddings

    why = embeddings.missing()
    if why is not None:
        if options.embeddings == "on":
            raise TrainingError(f"embeddings requested but unavailable: {why}")
        say(f"TF-IDF alone ({why})")
        return None
    return embeddings.Embedder(threads=max(1, options.n_jobs))


def _first_stage_oof(clf: Any, oof: np.ndarray, kind: str) -> np.ndarray:
    """Out-of-fold first-stage probabilities: logreg's as they are; the SVM's scores through the
    temperature the final model uses."""
    if kind in ("logreg", "mlp"):
        return np.nan_to_num(oof, neginf=0.0)
    beta = 1.0
    try:
        beta = float(clf.calibrated_classifiers_[0].calibrators[0].beta_)
    except (AttributeError, IndexError):
        pass
    z = oof * beta
    z = z - np.max(np.where(np.isfinite(z), z, -np.inf), axis=1, keepdims=True)
    p = np.exp(z)  # exp(-inf) = 0 for classes a fold never saw
    return p / p.sum(axis=1, keepdims=True)


def _second_stage(
    texts: list[str],
    embedder: Any,
    first: np.ndarray,
    y: np.ndarray,
    classes: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    options: TrainOptions,
    X: Any,
) -> tuple[SecondStage | None, dict[str, Any], np.ndarray]:
    """Fit the second stage, a logistic regression over [``EMBEDDING_WEIGHT`` x sentence embedding, the rows'
    TF-IDF features ``X``], on the rows whose out-of-fold first-stage confidence is below the highest
    threshold (the others could never ask it, and need no embedding); choose its C on the same folds and the
    confidence below which it answers. Returns the stage (None when too few rows were unsure), its metadata
    and the two stages' out-of-fold predictions (class indices)."""
    from joblib import Parallel, delayed
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    yi = np.searchsorted(classes, y)
    first_pred = first.argmax(axis=1)
    confidence = first.max(axis=1)
    unsure = np.flatnonzero(confidence < max(THRESHOLDS))
    unsure_rows = len(unsure)
    if unsure_rows > MAX_SECOND_STAGE_ROWS:
        # a seeded sample: the rows left out answer with the first stage in every variant compared below, so the
        # choice of C, blend and threshold is made on the sample alone
        rng = np.random.RandomState(options.random_state)
        unsure = np.sort(rng.choice(unsure, MAX_SECOND_STAGE_ROWS, replace=False))
    base = {
        "embedder": embedder.name,
        "embedded_rows": int(len(unsure)),
        "unsure_rows": int(unsure_rows),
        "accuracy_first_stage": round(float((first_pred == yi).mean()), 6),
        "kind": "joint",
        "embedding_weight": EMBEDDING_WEIGHT,
    }
    if len(unsure) < MIN_SECOND_STAGE_ROWS or len(np.unique(yi[unsure])) < 2:
        return (
            None,
            {**base, "reason": f"only {len(unsure)} training rows below confidence {max(THRESHOLDS):g}"},
            first_pred,
        )
    vectors = embedder.embed([texts[i] for i in unsure])
    dim = int(vectors.shape[1])
    feats = sparse.hstack(
        [sparse.csr_matrix(vectors.astype(np.float32) * EMBEDDING_WEIGHT), X[unsure].astype(np.float32)]
    ).tocsr()
    y_u = yi[unsure]
    position = np.full(len(y), -1)
    position[unsure] = np.arange(len(unsure))

    def fit(C: float, rows: Any, labels: np.ndarray) -> Any:
        return LogisticRegression(
            C=C, class_weight="balanced", max_iter=MAX_ITER_SECOND, random_state=options.random_state
        ).fit(feats[rows], labels)

    def fold(C: float, j: int) -> tuple[np.ndarray, np.ndarray] | None:
        from threadpoolctl import threadpool_limits

        train_idx, test_idx = (position[idx][position[idx] >= 0] for idx in splits[j])
        if not len(test_idx) or len(np.unique(y_u[train_idx])) < 2:
            return None
        with _quiet(), threadpool_limits(limits=1):
            clf = fit(C, train_idx, y_u[train_idx])
            return clf.classes_, clf.predict_proba(feats[test_idx])

    tasks = [(C, j) for C in SECOND_CS for j in range(len(splits))]
    with Parallel(n_jobs=max(1, min(options.n_jobs, len(tasks))), prefer="threads") as parallel:
        results = parallel(delayed(fold)(C, j) for C, j in tasks)
    # the second stage's out-of-fold probabilities for the unsure rows (the first stage's where a fold had none)
    first_u = first[unsure]
    second_proba: dict[float, np.ndarray] = {C: first_u.copy() for C in SECOND_CS}
    for (C, j), got in zip(tasks, results, strict=True):
        if got is not None:
            fold_classes, proba = got
            test_u = position[splits[j][1]][position[splits[j][1]] >= 0]
            block = np.zeros((len(test_u), len(classes)))
            block[:, fold_classes] = proba
            second_proba[C][test_u] = block

    def two_stage(C: float, blend: float, t: float) -> np.ndarray:
        pred = first_pred.copy()
        ask = confidence[unsure] < t
        mixed = (1.0 - blend) * second_proba[C][ask] + blend * first_u[ask]
        pred[unsure[ask]] = mixed.argmax(axis=1)
        return pred

    acc = {C: float((two_stage(C, 0.0, np.inf) == yi).mean()) for C in SECOND_CS}
    best_C = max(SECOND_CS, key=lambda c: (acc[c], -c))
    # the blend and the threshold: the best out-of-fold accuracy, then the lowest threshold within tolerance
    figures = {(b, t): float((two_stage(best_C, b, t) == yi).mean()) for b in BLENDS for t in THRESHOLDS}
    blend = max(BLENDS, key=lambda b: (max(figures[b, t] for t in THRESHOLDS), -b))
    by_threshold = {t: figures[blend, t] for t in THRESHOLDS}
    top = max(by_threshold.values())
    threshold = min(t for t in THRESHOLDS if by_threshold[t] >= top - THRESHOLD_TOLERANCE)
    two = two_stage(best_C, blend, threshold)
    with _quiet():
        final = fit(best_C, np.arange(len(unsure)), classes[y_u])
    meta = {
        **base,
        "C": best_C,
        "threshold": threshold,
        "blend": blend,
        "embedding_dim": dim,
        "embedded_share": round(float((confidence < threshold).mean()), 4),
        "accuracy_second_stage_always": round(figures[0.0, max(THRESHOLDS)], 6),
        "accuracy_two_stages": round(float((two == yi).mean()), 6),
        "accuracy_by_threshold": {f"{t:g}": round(a, 6) for t, a in by_threshold.items()},
        "accuracy_by_blend": {f"{b:g}": round(max(figures[b, t] for t in THRESHOLDS), 6) for b in BLENDS},
        "grid": [{"C": C, "accuracy": round(acc[C], 6)} for C in SECOND_CS],
    }
    stage = SecondStage(final, threshold, embedder.name, kind="joint", weight=EMBEDDING_WEIGHT, dim=dim, blend=blend)
    stage.bind([str(c) for c in classes])
    return stage, meta, two
