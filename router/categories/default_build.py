"""The training data of the packaged default model: Bitext mapped onto the general labels, plus
synthetic multilingual examples.

Bitext's sample is English e-commerce chat utterances; alone it knows nothing of
outages, how-to questions or feature requests, and nothing of German, French or
Spanish. ``models/synthetic_support.csv`` holds short support sentences written
for Helpline (language, label, text; nine labels x four languages, 12 to 14 each; they
are synthetic, not customer mail). The training set is a seeded sample of
``BITEXT_PER_INTENT`` Bitext rows per intent, relabelled through
``default_labels.BITEXT_INTENTS``, plus each synthetic sentence once, in turn alone,
inside a greeting and a sign-off of its language, or followed by another
sentence of the same label and language (mail says things twice). Once each:
copies of a sentence in several folds would make the cross-validation, and so
the temperature that turns scores into confidences, overconfident.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from helpline.router.categories.default_labels import BITEXT_INTENTS
from helpline.router.categories.model_train import (
    BITEXT_ATTRIBUTION,
    BITEXT_TEST,
    BITEXT_TRAIN,
    Dataset,
    TrainingError,
    TrainOptions,
    evaluate,
    file_sha256,
    read_csv,
    train,
)

if TYPE_CHECKING:
    from helpline.router.categories.category_model import CategoryModel

SYNTHETIC_CSV = Path(__file__).resolve().parent.parent / "models" / "synthetic_support.csv"
BITEXT_PER_INTENT = 60
SEED = 17

GREETINGS = {
    "en": (("Hello,", "Thanks,"), ("Hi there,", "Best regards"), ("Dear support team,", "Kind regards")),
    "de": (
        ("Hallo,", "Danke!"),
        ("Guten Tag,", "Mit freundlichen Grüßen"),
        ("Sehr geehrte Damen und Herren,", "Viele Grüße"),
    ),
    "fr": (("Bonjour,", "Merci."), ("Madame, Monsieur,", "Cordialement"), ("Bonsoir,", "Bien à vous")),
    "es": (("Hola,", "Gracias."), ("Buenos días,", "Saludos"), ("Estimado equipo,", "Un saludo")),
}


def read_synthetic(path: Path = SYNTHETIC_CSV) -> list[tuple[str, str, str]]:
    """(language, label, text) rows of the synthetic sentences."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [(r["language"], r["label"], r["text"]) for r in csv.DictReader(fh)]


def bitext_rows(path: Path, per_intent: int = BITEXT_PER_INTENT, seed: int = SEED) -> list[tuple[str, str]]:
    """(text, label) of a seeded sample of Bitext rows, relabelled by intent."""
    by_intent: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            intent = (row.get("intent") or "").strip()
            if intent not in BITEXT_INTENTS:
                raise TrainingError(f"{path}: intent {intent!r} has no default label (default_labels.BITEXT_INTENTS)")
            by_intent.setdefault(intent, []).append(row["utterance"])
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for intent in sorted(by_intent):
        texts = by_intent[intent]
        for text in rng.sample(texts, min(per_intent, len(texts))):
            out.append((text, BITEXT_INTENTS[intent]))
    return out


def synthetic_rows(rows: list[tuple[str, str, str]], seed: int = SEED) -> list[tuple[str, str]]:
    """(text, label): each sentence once, in turn alone, wrapped in a greeting and sign-off, or paired."""
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[str]] = {}
    for lang, label, text in rows:
        groups.setdefault((lang, label), []).append(text)
    out: list[tuple[str, str]] = []
    for (lang, label), texts in sorted(groups.items()):
        for i, text in enumerate(texts):
            hello, bye = rng.choice(GREETINGS.get(lang, GREETINGS["en"]))
            other = texts[(i + 1 + rng.randrange(len(texts) - 1)) % len(texts)] if len(texts) > 1 else text
            form = i % 3
            out.append((text if form == 0 else f"{hello}\n{text}\n{bye}" if form == 1 else f"{text} {other}", label))
    return out


def default_training_data(bitext_train: Path, synthetic: Path = SYNTHETIC_CSV) -> Dataset:
    """The default model's training set (deterministic for the same files)."""
    pairs = bitext_rows(bitext_train) + synthetic_rows(read_synthetic(synthetic))
    source = (
        f"bitext-support-intents/{bitext_train.name} ({BITEXT_PER_INTENT} per intent, relabelled) + "
        f"router/models/{synthetic.name} (synthetic, written for Helpline)"
    )
    return Dataset(
        [""] * len(pairs),
        [t for t, _ in pairs],
        [lab for _, lab in pairs],
        source,
        file_sha256(bitext_train)[:32] + file_sha256(synthetic)[:32],
    )


SHIPPED_CSV = Path(__file__).resolve().parent.parent / "models" / "default_training.csv"


def write_training_csv(data: Dataset, path: Path = SHIPPED_CSV) -> Path:
    """The default's training set as shipped beside it (text, label): what a desk's retrain starts from.
    It holds relabelled Bitext rows, so it ships under CDLA-Sharing-1.0 with LICENSE and SOURCE.md."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["text", "label"])
        for text, label in zip(data.texts, data.labels, strict=False):
            w.writerow([text, label])
    return path


def shipped_training_data(path: Path = SHIPPED_CSV) -> Dataset:
    """The default's training set, from the package (no data directory needed at run time)."""
    from helpline.router.categories.model_train import read_csv

    data = read_csv(path, "text", "label")
    data.source = "router/models/default_training.csv (the default model's training set)"
    return data


# ---- the packaged default model -----------------------------------------------------------
def build_default(
    data_dir: str | Path,
    out_dir: str | Path,
    options: TrainOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple["CategoryModel", dict[str, Any]]:
    """Train the default model (general support labels, ``default_labels``) on the Bitext training
    split relabelled plus the synthetic multilingual sentences (``default_build``), measure it on the
    relabelled Bitext test split, and write ``default.skops`` / ``default.json`` with the data's
    LICENSE and SOURCE.md into ``out_dir``."""
    import shutil
    from dataclasses import replace

    from helpline.router.categories.default_labels import BITEXT_INTENTS
    from helpline.router.categories.model_store import DEFAULT_NAME, save_model

    data_dir = Path(data_dir)
    out_dir = Path(out_dir)
    for name in (BITEXT_TRAIN, BITEXT_TEST, "LICENSE", "SOURCE.md"):
        if not (data_dir / name).is_file():
            raise TrainingError(
                f"{data_dir / name} is missing: expected the Bitext sample (train/test CSV, LICENSE, SOURCE.md)"
            )
    train_data = default_training_data(data_dir / BITEXT_TRAIN)
    test_data = read_csv(data_dir / BITEXT_TEST, "utterance", "intent")
    test_data.labels = [BITEXT_INTENTS[x] for x in test_data.labels]
    # The packaged default stays TF-IDF alone: it must give the same answers with and without the
    # embeddings extra, and the shipped MiniLM reads English only while the default reads four languages.
    model = train(
        train_data,
        replace(options or TrainOptions(), embeddings="off"),
        attribution={
            **BITEXT_ATTRIBUTION,
            "synthetic": (
                "router/models/synthetic_support.csv: support sentences in English, German, French and Spanish "
                "written for Helpline (synthetic, not customer mail)"
            ),
        },
        log=log,
    )
    test_metrics = evaluate(model, test_data)
    model.meta["version"] = "default"
    model.meta["source"] = train_data.source
    model.meta["test_metrics"] = {
        **test_metrics,
        "data": f"bitext-support-intents/{BITEXT_TEST} (intents relabelled)",
        "data_sha256": test_data.source_sha256,
    }
    model.meta["build_command"] = "helpline model build-default --data-dir ../shared/data/bitext-support-intents"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("LICENSE", "SOURCE.md"):
        shutil.copyfile(data_dir / name, out_dir / name)
    save_model(model, out_dir / f"{DEFAULT_NAME}.skops")
    write_training_csv(train_data, out_dir / "default_training.csv")
    return model, test_metrics
