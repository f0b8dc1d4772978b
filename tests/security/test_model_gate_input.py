"""Agents' labels and customers' texts are input to the gated retrain: hostile ones neither crash it nor
escape into anything but a label string, and too few tickets are refused with a message."""

from __future__ import annotations

import pytest

from helpline.router.categories import default_build
from helpline.router.categories import model_gate
from helpline.router.categories import model_store
from helpline.router.categories import model_train

HOSTILE_LABELS = ["<script>alert(1)</script>", "../../etc/passwd", "line\nbreak", "x" * 300, "REFUND", "Ünïcødé ✓"]


def _tickets(n_per_label: int) -> model_train.Dataset:
    subjects, texts, labels = [], [], []
    for i in range(n_per_label):
        for j, label in enumerate(HOSTILE_LABELS):
            subjects.append(f"case {j} \x00\r\n{'=' * (i % 5)}")
            texts.append(f"topic{j} word{j} " * (1 + i % 3) + ("A" * 50_000 if i == 0 else "") + " \u202e\u200b")
            labels.append(label)
    return model_train.Dataset(subjects, texts, labels, "tickets")


def test_hostile_labels_and_texts_train_and_stay_plain_strings():
    active = model_store.load_model(model_store.packaged_default_path())
    candidate, decision = model_gate.gated_retrain(
        _tickets(12), default_build.shipped_training_data(), active, model_train.TrainOptions(Cs=(1.0,))
    )
    labels = set(candidate.labels)
    assert {"<script>alert(1)</script>", "../../etc/passwd", "line\nbreak", "x" * 300, "Ünïcødé ✓"} <= labels
    assert "REFUND" not in labels and "cancellation_refund" in labels  # an old label is read as its replacement
    assert isinstance(decision.reason, str) and 0.0 <= decision.candidate_accuracy <= 1.0


def test_too_few_tickets_are_refused_with_a_reason():
    active = model_store.load_model(model_store.packaged_default_path())
    few = model_train.Dataset(["s"] * 10, ["t"] * 10, ["a", "b"] * 5, "tickets")
    with pytest.raises(model_train.TrainingError, match="too few for a gated retrain"):
        model_gate.gated_retrain(few, default_build.shipped_training_data(), active)
