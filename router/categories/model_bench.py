"""Measurements behind the category model's figures: training time and single-message latency.

``helpline model bench`` runs these. Training time is measured on ``rows``
examples: the CSV's own rows, or, when it has fewer, longer synthetic
examples made by joining two to four random texts of one label (a subject
line from the first), which is closer to a support mail than a repeated row.
Latency is that of :func:`category.classify` on one core, one message at a
time, p50 and p99 over ``predictions`` calls, next to scikit-learn's own
``predict_proba`` on the same single messages.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

import numpy as np

from helpline.router.categories.category import classify
from helpline.router.categories.category_model import CategoryModel
from helpline.router.categories.model_train import Dataset, TrainOptions, train


def synthetic_rows(data: Dataset, rows: int, seed: int = 1) -> Dataset:
    """``rows`` examples: the data itself when it has enough, else mail-like joins of its texts per label."""
    if len(data) >= rows:
        order = random.Random(seed).sample(range(len(data)), rows)
        return data.take(order)
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by.setdefault(label, []).append(i)
    labels = sorted(by)
    subjects: list[str] = []
    texts: list[str] = []
    out_labels: list[str] = []
    for _ in range(rows):
        label = rng.choice(labels)
        picks = [data.texts[i] for i in rng.sample(by[label], min(len(by[label]), rng.randint(2, 4)))]
        subjects.append(picks[0][:60])
        texts.append("Hello,\n\n" + " ".join(picks[1:] or picks) + f"\n\nThanks, customer {rng.randint(1, 10**6)}")
        out_labels.append(label)
    return Dataset(subjects, texts, out_labels, f"{data.source} (synthetic {rows} rows)", data.source_sha256)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1e3
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "mean_ms": round(float(ms.mean()), 4),
    }


def latency(model: CategoryModel, texts: list[str], predictions: int = 1000) -> dict[str, Any]:
    """p50/p99 of one ``classify`` call (the stage as workers run it) and of scikit-learn's
    ``predict_proba`` on one message, on one core."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for t in texts[:20]:  # warm the word memo and the allocator as a running worker has them
            classify("", t, model)
        fast: list[float] = []
        for i in range(predictions):
            text = texts[i % len(texts)]
            start = time.perf_counter()
            classify("", text, model)
            fast.append(time.perf_counter() - start)
        slow: list[float] = []
        for i in range(min(predictions, 300)):
            doc = model.text_of("", texts[i % len(texts)])
            start = time.perf_counter()
            model.pipeline.predict_proba([doc])
            slow.append(time.perf_counter() - start)
    return {
        "predictions": predictions,
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "classify": _percentiles(fast),
        "sklearn_predict_proba": _percentiles(slow),
    }


def bench(
    data: Dataset,
    rows: int,
    options: TrainOptions,
    eval_texts: list[str],
    predictions: int = 1000,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    sample = synthetic_rows(data, rows)
    started = time.perf_counter()
    model = train(sample, options, log=log)
    seconds = time.perf_counter() - started
    rng = random.Random(2)
    mails = [" ".join(rng.sample(eval_texts, min(len(eval_texts), 12))) for _ in range(100)]
    return {
        "training": {
            "rows": len(sample),
            "labels": len(model.labels),
            "seconds": round(seconds, 2),
            "n_features": model.meta["pipeline"]["n_features"],
            "C": model.meta["pipeline"]["C"],
            "cross_validation_fits": len(model.meta["cross_validation"]["grid"])
            * model.meta["cross_validation"]["folds"]
            + 1,
            "held_out_macro_f1": model.meta["held_out_metrics"]["macro_f1"],
        },
        "latency_short": latency(model, eval_texts, predictions),
        "latency_mail": latency(model, mails, predictions),
    }
