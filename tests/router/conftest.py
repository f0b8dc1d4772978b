"""Data and small models for the category-model tests (the Bitext sample in ../shared/data)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from helpline.router.categories import category
from helpline.router.categories import model_train

# The repository's sibling shared/data (a checkout beside it, or a worktree one level deeper).
DATA_DIR = next(
    (
        p / "shared" / "data" / "bitext-support-intents"
        for p in Path(__file__).resolve().parents[3:5]
        if (p / "shared" / "data" / "bitext-support-intents").is_dir()
    ),
    Path(__file__).resolve().parents[3] / "shared" / "data" / "bitext-support-intents",
)
TRAIN_CSV = DATA_DIR / model_train.BITEXT_TRAIN
TEST_CSV = DATA_DIR / model_train.BITEXT_TEST


def bitext(path: Path = TRAIN_CSV, label: str = "category") -> model_train.Dataset:
    return model_train.read_csv(path, "utterance", label)


def stratified_slice(
    data: model_train.Dataset, per_label: int, seed: int = 0, labels: list[str] | None = None
) -> model_train.Dataset:
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(data.labels):
        by.setdefault(lab, []).append(i)
    rows = [
        i
        for lab in sorted(by)
        if labels is None or lab in labels
        for i in rng.sample(by[lab], min(per_label, len(by[lab])))
    ]
    return data.take(rows)


SUPPORT_EMAILS = Path(__file__).resolve().parent / "data" / "support_emails.csv"


def support_emails(language: str | None = None) -> list[tuple[str, str]]:
    """(subject, body) of the hand-written support emails (EN/DE/FR/ES)."""
    return [(s, b) for s, b, _ in support_email_rows(language)]


def support_email_rows(language: str | None = None) -> list[tuple[str, str, str]]:
    with open(SUPPORT_EMAILS, newline="", encoding="utf-8") as fh:
        return [
            (r["subject"], r["body"], r["label"])
            for r in csv.DictReader(fh)
            if language is None or r["language"] == language
        ]


def relabelled(data: model_train.Dataset) -> model_train.Dataset:
    """Bitext rows read by ``category`` relabelled onto the default labels by their intent."""
    from helpline.router.categories.default_labels import BITEXT_INTENTS

    by_text = {}
    with open(TEST_CSV, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            by_text[r["utterance"]] = BITEXT_INTENTS[r["intent"]]
    return model_train.Dataset(data.subjects, data.texts, [by_text[t] for t in data.texts], data.source)


def write_csv(path: Path, data: model_train.Dataset, subject_column: bool = False) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "body", "label"] if subject_column else ["body", "label"])
        for s, t, lab in zip(data.subjects, data.texts, data.labels, strict=True):
            w.writerow([s, t, lab] if subject_column else [t, lab])
    return path


@pytest.fixture(scope="session")
def train_data() -> model_train.Dataset:
    return bitext(TRAIN_CSV)


@pytest.fixture(scope="session")
def test_data() -> model_train.Dataset:
    return bitext(TEST_CSV)


@pytest.fixture(scope="session")
def small_model(train_data):
    """40 examples per category: trains in about a second."""
    return model_train.train(stratified_slice(train_data, 40))


@pytest.fixture(autouse=True)
def _fresh_active_models():
    category.forget_active_models()
    yield
    category.forget_active_models()
