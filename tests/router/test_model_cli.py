"""``helpline model train/eval/list/activate/build-default`` as a user runs them, and ``--from-tickets``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpline.router.categories import category
from helpline.router.categories import model_store
from helpline.router.categories import model_train

from .conftest import DATA_DIR, TEST_CSV, stratified_slice, write_csv

# Until ingest/cli/main.py wires ``model_commands.register``, the module's own entry point takes the same
# arguments as ``helpline model …``; afterwards this becomes [sys.executable, "-m", "helpline.ingest.cli", "model"].
CLI = [sys.executable, "-m", "helpline.ingest.cli", "model"]


def run(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    full_env.update(env or {})
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, train_data):
    path = tmp_path_factory.mktemp("csv") / "train.csv"
    data = stratified_slice(train_data, 30, seed=4)
    data.subjects = [t.split()[0] if i % 3 == 0 else "" for i, t in enumerate(data.texts)]
    return write_csv(path, data, subject_column=True)


def test_train_to_a_file_then_eval(small_csv, tmp_path):
    out = tmp_path / "m.skops"
    proc = run(
        "train",
        "--csv",
        str(small_csv),
        "--text-column",
        "body",
        "--label-column",
        "label",
        "--subject-column",
        "subject",
        "--out",
        str(out),
        "--json",
    )
    result = json.loads(proc.stdout)
    assert result["path"] == str(out) and result["version"] is None
    assert result["training_rows"] == 330 and len(result["labels"]) == 11
    assert result["held_out_metrics"]["macro_f1"] > 0.8
    assert out.exists() and (tmp_path / "m.json").exists()

    proc = run(
        "eval",
        "--model",
        str(out),
        "--csv",
        str(TEST_CSV),
        "--text-column",
        "utterance",
        "--label-column",
        "category",
        "--json",
    )
    figures = json.loads(proc.stdout)
    assert figures["rows"] == 810 and figures["accuracy"] > 0.9 and figures["macro_f1"] > 0.9
    assert set(figures["per_class"]["ORDER"]) == {"precision", "recall", "f1", "support"}
    labels = figures["confusion"]["labels"]
    assert labels == sorted(labels) and len(figures["confusion"]["matrix"]) == len(labels)
    assert figures["unknown_labels"] == []

    text = run(
        "eval", "--model", str(out), "--csv", str(TEST_CSV), "--text-column", "utterance", "--label-column", "category"
    ).stdout
    assert "macro-F1" in text and "ORDER" in text


def test_train_into_the_store_list_and_activate(small_csv, tmp_path):
    env = {"HELPLINE_DATA_DIR": str(tmp_path / "data")}
    common = ["--csv", str(small_csv), "--text-column", "body", "--label-column", "label", "--C", "1"]
    assert "as version 1" in run("train", *common, env=env).stdout
    assert json.loads(run("train", *common, "--json", env=env).stdout)["version"] == 2
    rows = json.loads(run("list", "--json", env=env).stdout)
    assert [(r["version"], r["active"]) for r in rows] == [("default", True), (1, False), (2, False)]
    assert run("activate", "2", env=env).stdout.startswith("active model: 2")
    rows = json.loads(run("list", "--json", env=env).stdout)
    assert [r["active"] for r in rows] == [False, False, True]
    listing = run("list", env=env).stdout.splitlines()
    assert listing[2].startswith("* 2")
    store_dir = tmp_path / "data" / "models"
    assert category.load_active_model(str(store_dir), recheck_s=0).version == 2
    # eval of a store version by number
    figures = json.loads(
        run(
            "eval",
            "--model",
            "v1",
            "--csv",
            str(TEST_CSV),
            "--text-column",
            "utterance",
            "--label-column",
            "category",
            "--json",
            env=env,
        ).stdout
    )
    assert figures["model"] == "v1"
    bad = run("activate", "9", env=env, ok=False)
    assert bad.returncode == 2 and "no such model file" in bad.stderr
    # --models-dir instead of the data directory
    assert "as version 1" in run("--models-dir", str(tmp_path / "other"), "train", *common).stdout


def test_train_reports_bad_input(tmp_path, small_csv):
    proc = run(
        "train",
        "--csv",
        str(small_csv),
        "--text-column",
        "nope",
        "--label-column",
        "label",
        "--out",
        str(tmp_path / "x.skops"),
        ok=False,
    )
    assert proc.returncode == 2 and "no column 'nope'" in proc.stderr
    proc = run("train", "--csv", str(small_csv), "--out", str(tmp_path / "x.skops"), ok=False)
    assert proc.returncode == 2 and "--text-column" in proc.stderr


def test_build_default_into_a_directory(tmp_path):
    proc = run("build-default", "--data-dir", str(DATA_DIR), "--out", str(tmp_path), "--json")
    result = json.loads(proc.stdout)
    assert result["test"]["macro_f1"] >= 0.98 and result["bytes"] < 5_000_000
    assert (tmp_path / "LICENSE").exists() and (tmp_path / "SOURCE.md").exists()


# ---- --from-tickets --------------------------------------------------------------------------------------
TICKETS = {
    "REFUND": [
        "I returned the shoes, where is my refund?",
        "money back for my returned order please",
        "refund has not arrived on my card",
        "how long does a refund take",
    ],
    "DELIVERY": [
        "my parcel has not arrived",
        "when will my package be delivered",
        "delivery is late by a week",
        "track my delivery please",
    ],
}


def _fill_tickets() -> None:
    from helpline.store import models as m

    customer = m.Customer.create(name="Ann")
    n = 0
    for label, texts in TICKETS.items():
        for text in texts:
            n += 1
            wrong = "DELIVERY" if label == "REFUND" else "REFUND"
            t = m.Ticket.create(
                number=f"HL-T-{n}", subject=f"ticket {n}", channel="email", customer=customer, category=label
            )
            m.Message.create(ticket=t, direction="in", author_role="customer", channel="email", text=text)
            m.Message.create(ticket=t, direction="out", author_role="agent", channel="email", text="we are on it")
            if n % 2:
                m.Event.create(ticket=t, kind=category.CATEGORY_SET, data={"category": wrong})
                kind, data = category.label_event(label, wrong)
            else:
                kind, data = category.label_event(label, label)
            m.Event.create(ticket=t, kind=kind, data=data)
    # a ticket nobody labelled is not an example, nor one whose only message is the agent's
    t = m.Ticket.create(number="HL-T-x", subject="unlabelled", channel="email", customer=customer, category="X")
    m.Message.create(ticket=t, direction="in", author_role="customer", channel="email", text="hello")


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_examples_and_training_from_tickets(engine, tmp_path, request):
    from helpline.store import db, migrations

    url = f"sqlite:///{tmp_path}/h.sqlite3" if engine == "sqlite" else request.getfixturevalue("pg_database")
    db.init(url)
    try:
        migrations.upgrade()
        _fill_tickets()
        data = model_train.examples_from_tickets()
        assert len(data) == 8 and sorted(set(data.labels)) == ["DELIVERY", "REFUND"]
        assert data.texts[0] == TICKETS["REFUND"][0] and data.subjects[0] == "ticket 1"
    finally:
        db.database().close()
    env = {"HELPLINE_DATA_DIR": str(tmp_path / "data"), "HELPLINE_DATABASE_URL": url}
    result = json.loads(run("train", "--from-tickets", "--json", "--activate", env=env).stdout)
    assert result["version"] == 1 and result["activated"] and result["training_rows"] == 8
    model = model_store.load_model(tmp_path / "data" / "models" / "v1" / "model.skops")
    assert model.meta["source"] == "tickets"
    assert (
        category.classify("refund", "where is my refund for the returned shoes", model, threshold=0.0).category
        == "REFUND"
    )


def test_from_tickets_without_labels_says_so(tmp_path):
    from helpline.store import db, migrations

    url = f"sqlite:///{tmp_path}/h.sqlite3"
    db.init(url)
    try:
        migrations.upgrade()
    finally:
        db.database().close()
    proc = run(
        "train", "--from-tickets", env={"HELPLINE_DATA_DIR": str(tmp_path), "HELPLINE_DATABASE_URL": url}, ok=False
    )
    assert proc.returncode == 2 and "category_confirmed" in proc.stderr
