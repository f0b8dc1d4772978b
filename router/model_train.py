"""Training and evaluation of the category model.

``train`` fits word (1-2) and char_wb (2-5) n-gram TF-IDF into a
class-balanced multinomial logistic regression, with C chosen by stratified
cross-validation on the training rows only (macro-F1, folds in parallel, a
warm-started path over the C grid in each fold). A stratified held-out part of
the training rows measures the chosen model before it is refitted on all rows;
those figures go into the metadata. Everything is seeded: the same data and
options give the same coefficients.

The vectorizers are fitted once on all training texts (no labels are used), and
the folds reuse that matrix; that keeps training to seconds for ten thousand
rows on two cores. Features seen only in a held-out row get no weight, since
a row that is not trained on cannot move a coefficient away from zero.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .category_model import DEFAULT_MAX_CHARS, TEXT_PREP, CategoryModel, compose_text

DEFAULT_CS: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0)

# Event kinds an agent's decision about a ticket's category is recorded as
# (Event.data: {"category": NEW, "previous": OLD}). They are the labelled
# examples of ``train --from-tickets``.
CATEGORY_CONFIRMED = "category_confirmed"
CATEGORY_CORRECTED = "category_corrected"
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
        return [compose_text(s, t, max_chars) for s, t in zip(self.subjects, self.texts)]

    def sha256(self, max_chars: int = DEFAULT_MAX_CHARS) -> str:
        """Hash of the examples as the model sees them, whatever file they came from."""
        h = hashlib.sha256()
        for text, label in zip(self.composed(max_chars), self.labels):
            h.update(label.encode("utf-8") + b"\t" + text.encode("utf-8") + b"\n")
        return h.hexdigest()

    def take(self, rows: Sequence[int]) -> "Dataset":
        return Dataset([self.subjects[i] for i in rows], [self.texts[i] for i in rows],
                       [self.labels[i] for i in rows], self.source, self.source_sha256)


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
    from helpline.store import models as m

    latest: dict[int, str] = {}
    events = (m.Event.select(m.Event.ticket, m.Event.data, m.Ticket.category)
              .join(m.Ticket)
              .where(m.Event.kind.in_(LABEL_EVENTS))
              .order_by(m.Event.created_at, m.Event.id)
              .tuples())
    for ticket_id, data, ticket_category in events:
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
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        subject_of = dict(m.Ticket.select(m.Ticket.id, m.Ticket.subject).where(m.Ticket.id.in_(chunk)).tuples())
        first_text: dict[int, str] = {}
        rows = (m.Message.select(m.Message.ticket, m.Message.text)
                .where(m.Message.ticket.in_(chunk), m.Message.direction == "in", m.Message.author_role == "customer")
                .order_by(m.Message.created_at, m.Message.id).tuples())
        for tid, text in rows:
            first_text.setdefault(tid, text or "")
        for tid in chunk:
            subject, text = subject_of.get(tid, ""), first_text.get(tid, "")
            if not (subject.strip() or text.strip()):
                skipped += 1
                continue
            subjects.append(subject)
            texts.append(text)
            labels.append(latest[tid])
    return Dataset(subjects, texts, labels, "tickets", "", skipped)


# ---- the pipeline --------------------------------------------------------------------
@dataclass(frozen=True)
class TrainOptions:
    Cs: tuple[float, ...] = DEFAULT_CS
    folds: int = 3
    holdout: float = 0.1
    min_df: int = 2
    max_chars: int = DEFAULT_MAX_CHARS
    n_jobs: int = 2
    max_iter: int = 300
    random_state: int = 0


def build_features(min_df: int = 2) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    # min_df applies only once there is enough data for a twice-seen n-gram to mean something.
    return FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, dtype=np.float64)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df,
                                 dtype=np.float64)),
    ])


def _classifier(C: float, options: TrainOptions, warm_start: bool = False) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=options.max_iter, warm_start=warm_start,
                              random_state=options.random_state)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence convergence and tiny-class warnings (training reports its own figures)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _fold_path(X: Any, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, Cs: Sequence[float],
               options: TrainOptions) -> list[tuple[float, float]]:
    """(macro-F1, accuracy) on one fold for each C, warm-starting each fit from the previous one."""
    from sklearn.metrics import accuracy_score, f1_score

    clf = _classifier(Cs[0], options, warm_start=True)
    X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]
    out = []
    for C in Cs:
        clf.C = C
        clf.fit(X_train, y_train)
        pred = clf.predict(X_test)
        out.append((float(f1_score(y_test, pred, average="macro", zero_division=0)),
                    float(accuracy_score(y_test, pred))))
    return out


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


def choose_C(X: Any, y: np.ndarray, options: TrainOptions) -> tuple[float, list[dict[str, float]]]:
    """C by stratified k-fold cross-validation (macro-F1, then accuracy, then the smaller C)."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    Cs = sorted(float(c) for c in options.Cs)
    if len(Cs) == 1:
        return Cs[0], []
    _, counts = np.unique(y, return_counts=True)
    folds = max(2, min(options.folds, int(counts.max())))
    jobs = max(1, min(options.n_jobs, folds))
    with _quiet():  # the threads share the process's warning filters
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=options.random_state).split(np.zeros(len(y)), y))
        results = Parallel(n_jobs=jobs, prefer="threads")(
            delayed(_fold_path)(X, y, tr, te, Cs, options) for tr, te in splits)
    grid = []
    for i, C in enumerate(Cs):
        f1 = float(np.mean([r[i][0] for r in results]))
        acc = float(np.mean([r[i][1] for r in results]))
        grid.append({"C": C, "macro_f1": round(f1, 6), "accuracy": round(acc, 6)})
    best = max(grid, key=lambda g: (g["macro_f1"], g["accuracy"], -g["C"]))
    return best["C"], grid


def metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: true)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = [str(v) for v in y_true]
    y_pred = [str(v) for v in y_pred]
    all_labels = sorted(set(str(v) for v in (labels if labels is not None else ())) | set(y_true) | set(y_pred))
    present = sorted(set(y_true))  # macro averages over the classes the data has
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=all_labels, zero_division=0)
    _, _, f_macro, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro",
                                                       zero_division=0)
    _, _, f_weighted, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="weighted",
                                                          zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=all_labels)
    correct = sum(1 for a, b in zip(y_true, y_pred) if a == b)
    return {
        "rows": len(y_true),
        "accuracy": round(correct / len(y_true), 6) if y_true else 0.0,
        "macro_f1": round(float(f_macro), 6),
        "weighted_f1": round(float(f_weighted), 6),
        "per_class": {lab: {"precision": round(float(p[i]), 6), "recall": round(float(r[i]), 6),
                            "f1": round(float(f[i]), 6), "support": int(s[i])}
                      for i, lab in enumerate(all_labels)},
        "confusion": {"labels": all_labels, "matrix": cm.tolist()},
    }


def evaluate(model: CategoryModel, data: Dataset, batch: int = 2000) -> dict[str, Any]:
    """The model's metrics on labelled data (text prepared as for prediction)."""
    texts = data.composed(model.max_chars)
    pred: list[str] = []
    for start in range(0, len(texts), batch):
        pred.extend(model.predict(texts[start:start + batch]))
    out = metrics(data.labels, pred, model.labels)
    out["unknown_labels"] = sorted(set(data.labels) - set(model.labels))
    return out


def library_versions() -> dict[str, str]:
    import joblib
    import scipy
    import sklearn
    import skops

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "skops": skops.__version__, "joblib": joblib.__version__}


def train(data: Dataset, options: TrainOptions = TrainOptions(), *, attribution: dict[str, Any] | None = None,
          log: Callable[[str], None] | None = None) -> CategoryModel:
    """Fit the pipeline on ``data``; the model's ``meta`` holds what ``model_store`` writes next to it."""
    from threadpoolctl import threadpool_limits

    # Parallelism comes from the folds (options.n_jobs threads); a multi-threaded
    # BLAS under them only spins against the other folds (measured: 3x slower).
    with threadpool_limits(limits=1):
        return _train(data, options, attribution, log)


def _train(data: Dataset, options: TrainOptions, attribution: dict[str, Any] | None,
           log: Callable[[str], None] | None) -> CategoryModel:
    from sklearn.pipeline import Pipeline

    say = log or (lambda _msg: None)
    started = time.perf_counter()
    texts = data.composed(options.max_chars)
    y = np.asarray(data.labels, dtype=object).astype(str)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise TrainingError(f"need at least two labels to train, got {len(classes)} ({', '.join(classes)})")
    if len(y) < 2 * len(classes):
        raise TrainingError(f"{len(y)} rows for {len(classes)} labels: need at least two rows per label on average")

    with _quiet():
        features = build_features(options.min_df if len(y) >= 200 else 1)
        X = features.fit_transform(texts).tocsr()
    t_vec = time.perf_counter() - started
    say(f"vectorised {len(y)} rows into {X.shape[1]} features in {t_vec:.1f}s")

    fit_idx, held_idx = _holdout_split(y, options.holdout, options.random_state)
    C, grid = choose_C(X[fit_idx], y[fit_idx], options)
    t_cv = time.perf_counter() - started - t_vec
    say(f"C={C:g} by {options.folds}-fold cross-validation in {t_cv:.1f}s")

    with _quiet():
        clf = _classifier(C, options, warm_start=True)
        held_out: dict[str, Any] | None = None
        if len(held_idx):
            clf.fit(X[fit_idx], y[fit_idx])
            held_out = metrics(y[held_idx], clf.predict(X[held_idx]), classes)
            held_out["note"] = (f"stratified {options.holdout:.0%} of the training rows, held out from the fit; "
                                "the saved model was then refitted on all rows")
        clf.fit(X, y)  # warm-started from the held-out fit: a few iterations
        clf.warm_start = False
    for _, vec in features.transformer_list:
        if hasattr(vec, "stop_words_"):
            del vec.stop_words_  # the pruned n-grams: large and not needed to predict
    pipeline = Pipeline([("features", features), ("clf", clf)])
    seconds = time.perf_counter() - started
    say(f"trained in {seconds:.1f}s")
    meta: dict[str, Any] = {
        "format": 1,
        "kind": "helpline-category-model",
        "version": None,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "labels": [str(c) for c in classes],
        "label_counts": {str(c): int(n) for c, n in zip(classes, counts)},
        "training_rows": int(len(y)),
        "training_data_sha256": data.sha256(options.max_chars),
        "source": data.source,
        "source_sha256": data.source_sha256,
        "held_out_metrics": held_out,
        "cross_validation": {"folds": options.folds, "scoring": "macro_f1", "grid": grid, "chosen_C": C},
        "pipeline": {
            "features": [
                "word n-grams (1, 2), TF-IDF, sublinear tf, l2",
                "char_wb n-grams (2, 5), TF-IDF, sublinear tf, l2",
            ],
            "min_df": features.transformer_list[0][1].min_df,
            "n_features": int(X.shape[1]),
            "classifier": "LogisticRegression (multinomial, lbfgs), class_weight=balanced",
            "C": C,
        },
        "text_prep": TEXT_PREP,
        "max_chars": options.max_chars,
        "random_state": options.random_state,
        "train_seconds": round(seconds, 2),
        "libraries": library_versions(),
        "attribution": attribution,
    }
    return CategoryModel(pipeline, meta)


# ---- the packaged default model -----------------------------------------------------------
def build_default(data_dir: str | Path, out_dir: str | Path, options: TrainOptions = TrainOptions(),
                  log: Callable[[str], None] | None = None) -> tuple[CategoryModel, dict[str, Any]]:
    """Train the default model on the Bitext training split, measure it on the test split, and write
    ``default.skops`` / ``default.json`` with the data's LICENSE and SOURCE.md into ``out_dir``."""
    import shutil

    from .model_store import DEFAULT_NAME, save_model

    data_dir = Path(data_dir)
    out_dir = Path(out_dir)
    for name in (BITEXT_TRAIN, BITEXT_TEST, "LICENSE", "SOURCE.md"):
        if not (data_dir / name).is_file():
            raise TrainingError(f"{data_dir / name} is missing: expected the Bitext sample (train/test CSV, "
                                "LICENSE, SOURCE.md)")
    train_data = read_csv(data_dir / BITEXT_TRAIN, "utterance", "category")
    test_data = read_csv(data_dir / BITEXT_TEST, "utterance", "category")
    model = train(train_data, options, attribution=BITEXT_ATTRIBUTION, log=log)
    test_metrics = evaluate(model, test_data)
    model.meta["version"] = "default"
    model.meta["source"] = f"bitext-support-intents/{BITEXT_TRAIN} (text column utterance, label column category)"
    model.meta["test_metrics"] = {**test_metrics, "data": f"bitext-support-intents/{BITEXT_TEST}",
                                  "data_sha256": test_data.source_sha256}
    model.meta["build_command"] = "helpline model build-default --data-dir ../shared/data/bitext-support-intents"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("LICENSE", "SOURCE.md"):
        shutil.copyfile(data_dir / name, out_dir / name)
    save_model(model, out_dir / f"{DEFAULT_NAME}.skops")
    return model, test_metrics
