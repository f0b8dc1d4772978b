"""k-fold cross-validated accuracy of ``helpline model train``'s training on one labelled CSV, printed (a command,
not a test)::

    python -m tests.router.eval_cv --csv banking77_test.csv --text-column text --label-column category \\
        --folds 5 --classifier auto --embeddings on

For a data set that comes as one file, or to compare training options on the same folds: each fold trains
through ``model_train.train`` exactly as the command line does (its own inner cross-validation for C, the
classifier choice, the embeddings stage) on the other folds' rows, and predicts the fold's rows through the
saved model's batch path. Prints each fold's accuracy, macro-F1, chosen classifier, C and second-stage
threshold, then the means and the training time. Stratified folds, ``--seed`` fixes them.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    from helpline.router.categories import model_train

    p = argparse.ArgumentParser(description=__doc__.split("::")[0])
    p.add_argument("--csv", required=True)
    p.add_argument("--text-column", required=True)
    p.add_argument("--label-column", required=True)
    p.add_argument("--subject-column")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--classifier", choices=model_train.CLASSIFIERS, default="auto")
    p.add_argument("--embeddings", choices=["on", "off"], default="off")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    data = model_train.read_csv(args.csv, args.text_column, args.label_column, args.subject_column)
    labels = np.asarray(data.labels, dtype=object)
    texts = data.composed()
    options = model_train.TrainOptions(classifier=args.classifier, embeddings=args.embeddings)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    rows = []
    started = time.perf_counter()
    for k, (train_idx, test_idx) in enumerate(folds.split(np.zeros(len(labels)), labels)):
        t0 = time.perf_counter()
        model = model_train.train(data.take(train_idx), options)
        seconds = time.perf_counter() - t0
        pred = model.predict([texts[i] for i in test_idx])
        truth = labels[test_idx]
        second = model.meta.get("second_stage") or {}
        row = {
            "fold": k,
            "accuracy": round(float(accuracy_score(truth, pred)), 4),
            "macro_f1": round(float(f1_score(truth, pred, average="macro", zero_division=0)), 4),
            "classifier": (model.meta["cross_validation"].get("classifiers") or {}).get("chosen", args.classifier),
            "C": model.meta["pipeline"]["C"],
            "threshold": second.get("threshold"),
            "embedded_share": second.get("embedded_share"),
            "train_seconds": round(seconds, 1),
        }
        rows.append(row)
        if not args.json:
            print(" ".join(f"{key}={value}" for key, value in row.items()), flush=True)
    summary = {
        "csv": args.csv,
        "rows": len(labels),
        "labels": len(set(data.labels)),
        "folds": args.folds,
        "classifier": args.classifier,
        "embeddings": args.embeddings,
        "accuracy": round(float(np.mean([r["accuracy"] for r in rows])), 4),
        "macro_f1": round(float(np.mean([r["macro_f1"] for r in rows])), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "per_fold": rows,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"mean over {args.folds} folds: accuracy {summary['accuracy']} macro-F1 {summary['macro_f1']} "
            f"({summary['rows']} rows, {summary['labels']} labels, {summary['seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
