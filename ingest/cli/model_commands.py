"""``helpline model …``: train, evaluate, list and activate category models.

``register(subparsers)`` adds the ``model`` command to the ``helpline`` parser.
Nothing heavy is imported here at module level: scikit-learn loads only when a
``model`` subcommand runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _store(args: argparse.Namespace):  # noqa: ANN202
    from helpline.router.categories.category import models_dir_for
    from helpline.router.categories.model_store import ModelStore

    if getattr(args, "models_dir", None):
        return ModelStore(args.models_dir)
    from helpline.store import config

    return ModelStore(models_dir_for(config.load()))


def _options(args: argparse.Namespace):  # noqa: ANN202
    from helpline.router.categories.model_train import TrainOptions

    return TrainOptions(
        classifier=args.classifier,
        Cs=tuple(args.C or ()),
        folds=args.folds,
        holdout=args.holdout,
        min_df=args.min_df,
        n_jobs=args.jobs,
        random_state=args.seed,
        embeddings=getattr(args, "embeddings", "auto"),
    )


def _err(msg: str) -> int:
    print(f"helpline model: {msg}", file=sys.stderr)
    return 2


def _log(args: argparse.Namespace):  # noqa: ANN202
    quiet = getattr(args, "json", False)
    return (lambda msg: print(msg, file=sys.stderr)) if quiet else print


def _summary(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "no held-out figures"
    return f"accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} on {metrics['rows']} rows"


def cmd_train(args: argparse.Namespace) -> int:
    from helpline.router.categories.model_store import ModelError, save_model
    from helpline.router.categories.model_train import TrainingError, examples_from_tickets, read_csv, train

    say = _log(args)
    try:
        if args.from_tickets:
            from helpline.store import config, db

            settings = config.load()
            db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
            data = examples_from_tickets(limit=args.limit or None)
            if not len(data):
                return _err(
                    "no ticket has a confirmed or corrected category yet "
                    "(events category_confirmed / category_corrected)"
                )
        else:
            if not (args.text_column and args.label_column):
                return _err("--csv needs --text-column and --label-column")
            data = read_csv(args.csv, args.text_column, args.label_column, args.subject_column)
        say(f"{len(data)} examples from {data.source}" + (f" ({data.skipped} skipped)" if data.skipped else ""))
        if args.gate:
            if not args.from_tickets or args.out:
                return _err("--gate needs --from-tickets and the model store (not --out)")
            return _gated(args, data, say)
        model = train(data, _options(args), log=say)
        if args.out:
            path = save_model(model, args.out)
            where, version = str(path), None
        else:
            store = _store(args)
            version = store.add(model)
            where = str(store.path(version))
            if args.activate:
                store.activate(version)
    except (TrainingError, ModelError, OSError) as exc:
        return _err(str(exc))
    meta = model.meta
    if args.json:
        _print_json(
            {
                "path": where,
                "version": version,
                "activated": bool(version and args.activate),
                "labels": meta["labels"],
                "training_rows": meta["training_rows"],
                "train_seconds": meta["train_seconds"],
                "C": meta["pipeline"]["C"],
                "second_stage": {
                    k: v for k, v in (meta.get("second_stage") or {}).items() if k not in ("file", "sha256")
                }
                or None,
                "cross_validation": meta["cross_validation"],
                "held_out_metrics": {
                    k: v
                    for k, v in (meta["held_out_metrics"] or {}).items()
                    if k in ("accuracy", "macro_f1", "weighted_f1", "rows", "method")
                },
            }
        )
    else:
        print(
            f"saved {where}"
            + (f" as version {version}" if version else "")
            + (" (activated)" if version and args.activate else "")
        )
        print(
            f"{meta['training_rows']} rows, {len(meta['labels'])} labels, C={meta['pipeline']['C']:g}, "
            f"{meta['train_seconds']:.1f}s; held out: {_summary(meta['held_out_metrics'])}"
        )
        if version and not args.activate:
            print(f"activate it with: helpline model activate {version}")
    return 0


def _gated(args: argparse.Namespace, data: Any, say: Any) -> int:
    """Train a candidate on the shipped data + the tickets, store it, activate it only if the gate passes,
    and record the decision as a ``category_model_gate`` event."""
    from helpline.router.categories.category import forget_active_models
    from helpline.router.categories.default_build import shipped_training_data
    from helpline.router.categories.model_gate import gated_retrain
    from helpline.router.categories.model_store import load_model
    from helpline.store.tickets import model_events

    store = _store(args)
    active = load_model(store.active_path())
    candidate, decision = gated_retrain(data, shipped_training_data(), active, _options(args), args.margin, log=say)
    version = store.add(candidate)
    if decision.activate:
        store.activate(version)
        forget_active_models()
    model_events.record_gate(
        {
            "version": version,
            **decision.as_dict(),
            "process": {"nice": os.nice(0), "omp_threads": os.environ.get("OMP_NUM_THREADS", "")},
        }
    )
    if args.json:
        _print_json({"version": version, "activated": decision.activate, **decision.as_dict()})
    else:
        print(f"saved version {version}: {decision.reason}")
        if decision.new_labels:
            print(f"new labels learnt from agents: {', '.join(decision.new_labels)}")
        if decision.activate:
            print(
                f"roll back with: helpline model activate {active.version if active.version is not None else 'default'}"
            )
    return 0


def _resolve_model(args: argparse.Namespace):  # noqa: ANN202
    """--model as a path, or a store version (3, v3, default, active)."""
    from helpline.router.categories.model_store import ModelError, load_model, parse_version

    ref = args.model or "active"
    p = Path(ref)
    if p.exists():
        return load_model(p)
    if ref == "active":
        return load_model(_store(args).active_path())
    try:
        version = parse_version(ref)
    except ModelError:
        raise ModelError(f"{ref}: no such file, and not a model version") from None
    return load_model(_store(args).path(version))


def cmd_eval(args: argparse.Namespace) -> int:
    from helpline.router.categories.model_store import ModelError
    from helpline.router.categories.model_train import TrainingError, evaluate, read_csv

    try:
        model = _resolve_model(args)
        data = read_csv(args.csv, args.text_column, args.label_column, args.subject_column)
        result = evaluate(model, data)
    except (TrainingError, ModelError, OSError) as exc:
        return _err(str(exc))
    result = {"model": model.version_label, "data": str(args.csv), **result}
    if args.json:
        _print_json(result)
        return 0
    print(f"model {model.version_label} on {args.csv}: {result['rows']} rows")
    print(
        f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}   "
        f"weighted-F1 {result['weighted_f1']:.4f}"
    )
    width = max([len(k) for k in result["per_class"]] + [5])
    print(f"{'label':<{width}}  precision  recall     f1  support")
    for label, m in result["per_class"].items():
        print(f"{label:<{width}}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:.4f}  {m['support']:7d}")
    if result["unknown_labels"]:
        print(f"labels the model does not know: {', '.join(result['unknown_labels'])}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = _store(args).list()
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        acc = f"{r['accuracy']:.4f}" if isinstance(r.get("accuracy"), (int, float)) else "-"
        f1 = f"{r['macro_f1']:.4f}" if isinstance(r.get("macro_f1"), (int, float)) else "-"
        print(
            f"{'*' if r['active'] else ' '} {str(r['version']):<8} {str(r['created_at'] or '-'):<26} "
            f"labels={r['labels']:<4} rows={str(r['training_rows'] or '-'):<7} acc={acc} macro-F1={f1}  "
            f"{r['source'] or ''}" + (f"  gate: {r['gate']}" if r.get("gate") else "")
        )
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    from helpline.router.categories.model_store import ModelError

    store = _store(args)
    try:
        version = store.activate(args.version)
    except (ModelError, OSError) as exc:
        return _err(str(exc))
    print(f"active model: {version} ({store.active_path()}); workers switch within a few seconds")
    return 0


def cmd_build_default(args: argparse.Namespace) -> int:
    from helpline.router.categories.model_store import PACKAGED_DIR, ModelError
    from helpline.router.categories.default_build import build_default
    from helpline.router.categories.model_train import TrainingError

    out = Path(args.out) if args.out else PACKAGED_DIR
    say = _log(args)
    try:
        model, test = build_default(args.data_dir, out, _options(args), log=say)
    except (TrainingError, ModelError, OSError) as exc:
        return _err(str(exc))
    size = os.path.getsize(out / "default.skops")
    if args.json:
        _print_json(
            {
                "path": str(out / "default.skops"),
                "bytes": size,
                "train_seconds": model.meta["train_seconds"],
                "C": model.meta["pipeline"]["C"],
                "test": {k: test[k] for k in ("rows", "accuracy", "macro_f1")},
            }
        )
    else:
        print(f"wrote {out / 'default.skops'} ({size / 1e6:.2f} MB) and default.json, LICENSE, SOURCE.md")
        print(f"test split: {_summary(test)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from helpline.router.categories.model_bench import bench
    from helpline.router.categories.model_train import TrainingError, read_csv

    try:
        data = read_csv(args.csv, args.text_column, args.label_column, args.subject_column)
        eval_data = (
            read_csv(args.eval_csv, args.text_column, args.label_column, args.subject_column) if args.eval_csv else data
        )
    except (TrainingError, OSError) as exc:
        return _err(str(exc))
    result = bench(data, args.rows, _options(args), eval_data.composed(), args.predictions, log=_log(args))
    if args.json:
        _print_json(result)
        return 0
    tr = result["training"]
    print(
        f"training: {tr['rows']} rows, {tr['labels']} labels, {tr['n_features']} features: {tr['seconds']:.2f}s "
        f"({tr['cross_validation_fits']} fits, C={tr['C']:g}, held-out macro-F1 {tr['held_out_macro_f1']:.4f})"
    )
    for name in ("latency_short", "latency_mail"):
        lat = result[name]
        print(
            f"{name[8:]} messages ({lat['mean_chars']:.0f} chars), one at a time on one core: "
            f"classify p50 {lat['classify']['p50_ms']:.3f} ms p99 {lat['classify']['p99_ms']:.3f} ms; "
            f"sklearn predict_proba p50 {lat['sklearn_predict_proba']['p50_ms']:.3f} ms "
            f"p99 {lat['sklearn_predict_proba']['p99_ms']:.3f} ms"
        )
    return 0


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--classifier",
        choices=["auto", "svm", "logreg", "mlp"],
        default="auto",
        help="auto: whichever cross-validates best (default); svm: LinearSVC with temperature-scaled "
        "probabilities; logreg: multinomial logistic regression; mlp: one hidden ReLU layer on the same features",
    )
    p.add_argument(
        "--C",
        type=float,
        action="append",
        help="fix the grid of C values (repeat; for mlp: epoch counts); default: searched",
    )
    p.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="fraction held out from training for the metadata's metrics (default 0: out-of-fold)",
    )
    p.add_argument("--min-df", type=int, default=0, help="minimum document frequency of an n-gram (0: automatic)")
    p.add_argument("--jobs", type=int, default=2, help="parallel cross-validation fits (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--embeddings",
        choices=["auto", "on", "off"],
        default="auto",
        help="stack the sentence-embeddings stage on the TF-IDF model: auto (when the embeddings "
        "extra is installed), on (fail without it), off",
    )
    p.add_argument("--json", action="store_true")


def register(subparsers: Any) -> None:
    """Add ``model`` and its subcommands to the ``helpline`` parser's subparsers."""
    m = subparsers.add_parser("model", help="category models: train, eval, list, activate, build-default, bench")
    m.add_argument("--models-dir", help="the model store (default: $HELPLINE_DATA_DIR/models)")
    msub = m.add_subparsers(dest="model_action", required=True)

    t = msub.add_parser("train", help="train a category model from a CSV file or from agents' labels on tickets")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="UTF-8 CSV file with a header row")
    src.add_argument(
        "--from-tickets", action="store_true", help="tickets whose category an agent confirmed or corrected"
    )
    t.add_argument("--text-column")
    t.add_argument("--label-column")
    t.add_argument("--subject-column")
    t.add_argument("--limit", type=int, default=0, help="--from-tickets: only the most recent N tickets")
    t.add_argument("--out", help="write MODEL.skops + MODEL.json (or MODEL/ as a directory) instead of the store")
    t.add_argument("--activate", action="store_true", help="activate the new store version at once")
    t.add_argument(
        "--gate",
        action="store_true",
        help="--from-tickets: train on the shipped data + the tickets, activate only if it beats the "
        "active model on the most recent labelled tickets by --margin",
    )
    t.add_argument(
        "--margin",
        type=float,
        default=0.02,
        help="--gate: accuracy gain needed on the held-out recent tickets (default 0.02)",
    )
    _train_args(t)
    t.set_defaults(fn=cmd_train)

    e = msub.add_parser("eval", help="accuracy, macro-F1, per-class figures and confusion matrix on a CSV file")
    e.add_argument("--model", default="active", help="a model file, or a store version (3, v3, default, active)")
    e.add_argument("--csv", required=True)
    e.add_argument("--text-column", required=True)
    e.add_argument("--label-column", required=True)
    e.add_argument("--subject-column")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_eval)

    ls = msub.add_parser("list", help="the store's versions and the packaged default; * marks the active one")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(fn=cmd_list)

    a = msub.add_parser("activate", help="make a version the active model (default: the packaged model)")
    a.add_argument("version")
    a.set_defaults(fn=cmd_activate)

    b = msub.add_parser("build-default", help="rebuild the packaged default model from the Bitext sample")
    b.add_argument("--data-dir", required=True, help="e.g. ../shared/data/bitext-support-intents")
    b.add_argument("--out", help="directory to write into (default: the package's router/models/)")
    _train_args(b)
    b.set_defaults(fn=cmd_build_default)

    bn = msub.add_parser("bench", help="training time on N rows and single-message prediction p50/p99")
    bn.add_argument("--csv", required=True)
    bn.add_argument("--text-column", required=True)
    bn.add_argument("--label-column", required=True)
    bn.add_argument("--subject-column")
    bn.add_argument("--eval-csv", help="texts to time predictions on (default: --csv)")
    bn.add_argument(
        "--rows",
        type=int,
        default=10000,
        help="training rows; more than the file has are made by joining 2-4 texts of one label",
    )
    bn.add_argument("--predictions", type=int, default=1000)
    _train_args(bn)
    bn.set_defaults(fn=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry until ``helpline`` wires ``register``: ``python -m helpline.ingest.cli.model_commands …``
    takes the same arguments as ``helpline model …``."""
    parser = argparse.ArgumentParser(prog="helpline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["model", *(sys.argv[1:] if argv is None else argv)])
    from helpline.store.config import ConfigError

    try:
        return int(args.fn(args) or 0)
    except ConfigError as exc:
        print(f"helpline: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
