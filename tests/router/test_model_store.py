"""Saving and loading (skops, trusted types, integrity), versions, activation, the packaged default."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from helpline.router.categories import default_build
from helpline.router.categories import category
from helpline.router.categories import default_labels
from helpline.router.categories import model_store
from helpline.router.categories import model_train

from .conftest import DATA_DIR, relabelled, stratified_slice, support_emails


@pytest.fixture(scope="module")
def two_models(train_data):
    """Two models that are easy to tell apart: different label sets."""
    a = model_train.train(
        stratified_slice(train_data, 15, labels=["ORDER", "REFUND", "INVOICE"]), model_train.TrainOptions(Cs=(1.0,))
    )
    b = model_train.train(
        stratified_slice(train_data, 15, labels=["DELIVERY", "PAYMENT"]), model_train.TrainOptions(Cs=(1.0,))
    )
    return a, b


# ---- files ---------------------------------------------------------------------------------------
def test_save_and_load_round_trip(small_model, test_data, tmp_path):
    path = model_store.save_model(small_model, tmp_path / "m.skops")
    assert path == tmp_path / "m.skops"
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["model_sha256"] and meta["labels"] == list(small_model.labels)
    assert meta["training_rows"] == 440 and meta["held_out_metrics"]["accuracy"] > 0.8
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's 0600: workers may run as another user
    loaded = model_store.load_model(path)
    assert loaded.labels == small_model.labels
    texts = test_data.composed()[:50]
    np.testing.assert_allclose(loaded.predict_proba(texts), small_model.predict_proba(texts))
    assert model_store.untrusted_types(path) == []
    # a directory works too: DIR/model.skops + DIR/model.json
    model_store.save_model(small_model, tmp_path / "dir")
    assert model_store.load_model(tmp_path / "dir").labels == small_model.labels
    assert not list(tmp_path.glob(".*tmp"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_file_with_an_untrusted_type_is_refused(tmp_path):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    evil = Pipeline([("run", FunctionTransformer(os.system))])
    path = tmp_path / "evil.skops"
    sio.dump(evil, path)
    (tmp_path / "evil.json").write_text(json.dumps({"labels": ["A"]}))
    assert model_store.untrusted_types(path)  # e.g. ['posix.system']
    with pytest.raises(model_store.UntrustedModelError, match="untrusted types"):
        model_store.load_model(path)


def test_a_pickle_is_not_a_model(tmp_path):
    import pickle

    path = tmp_path / "p.skops"
    path.write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "p.json").write_text("{}")
    with pytest.raises(model_store.ModelError):
        model_store.load_model(path)


def test_a_file_that_differs_from_its_metadata_is_refused(small_model, two_models, tmp_path):
    path = model_store.save_model(small_model, tmp_path / "m.skops")
    other = model_store.save_model(two_models[0], tmp_path / "o.skops")
    os.replace(other, path)  # model file swapped, metadata left
    with pytest.raises(model_store.ModelError, match="sha256"):
        model_store.load_model(path)
    with pytest.raises(model_store.ModelError, match="no such model file"):
        model_store.load_model(tmp_path / "missing.skops")


# ---- the packaged default ---------------------------------------------------------------------------
def test_packaged_default_model(test_data):
    path = model_store.packaged_default_path()
    model = model_store.load_model(path)
    meta = model.meta
    assert meta["version"] == "default" and model.version_label == "default"
    assert meta["attribution"]["title"] == "Bitext - Customer Service Tagged Training Dataset for Intent Detection"
    assert meta["attribution"]["license"] == "CDLA-Sharing-1.0"
    assert (path.parent / "LICENSE").read_text().startswith("Community Data License Agreement")
    assert "CDLA-Sharing-1.0" in (path.parent / "SOURCE.md").read_text()
    assert tuple(meta["labels"]) == tuple(sorted(default_labels.LABELS))
    assert meta["source_sha256"].startswith("4360971d9ed1884ddc3480b66b50bd3a")  # the Bitext training split
    assert "synthetic" in meta["attribution"] and "synthetic" in meta["source"]
    assert set(meta["libraries"]) >= {"scikit-learn", "numpy", "scipy", "skops"}
    assert path.stat().st_size < 5_000_000
    result = model_train.evaluate(model, relabelled(test_data))
    assert result["macro_f1"] >= 0.98 and result["accuracy"] >= 0.98
    assert meta["test_metrics"]["macro_f1"] == pytest.approx(result["macro_f1"])


def test_build_default_reproduces_the_packaged_model(tmp_path, test_data):
    """The command in the repo gives the shipped model's predictions (same data, fixed seed)."""
    model, test = default_build.build_default(DATA_DIR, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "default.skops",
        "default.json",
        "LICENSE",
        "SOURCE.md",
        "default_training.csv",
    }
    assert test["macro_f1"] >= 0.98
    shipped = model_store.load_model(model_store.packaged_default_path())
    rebuilt = model_store.load_model(tmp_path / "default.skops")
    assert rebuilt.labels == shipped.labels
    assert rebuilt.meta["training_data_sha256"] == shipped.meta["training_data_sha256"]
    texts = test_data.composed() + [f"{s} {t}" for s, t in support_emails()]
    assert rebuilt.predict(texts) == shipped.predict(texts)
    # bit-identical on the machine that built it; other library builds may differ in the last bits
    np.testing.assert_allclose(rebuilt.predict_proba(texts), shipped.predict_proba(texts), rtol=0, atol=1e-9)


# ---- the store ------------------------------------------------------------------------------------------
def test_versions_list_and_activate(two_models, tmp_path):
    store = model_store.ModelStore(tmp_path / "models")
    assert store.versions() == [] and store.active_version() is None
    assert store.active_path() == model_store.packaged_default_path()
    assert store.add(two_models[0]) == 1
    assert store.add(two_models[1]) == 2
    assert store.versions() == [1, 2]
    assert model_store.read_metadata(store.path(2))["version"] == 2
    rows = store.list()
    assert [r["version"] for r in rows] == ["default", 1, 2]
    assert [r["active"] for r in rows] == [True, False, False]
    assert store.activate("v2") == 2
    assert store.active_file.read_text() == "2\n"
    assert [r["active"] for r in store.list()] == [False, False, True]
    assert store.activate("default") == "default" and store.active_version() is None
    with pytest.raises(model_store.ModelError, match="no such model file"):
        store.activate(7)
    with pytest.raises(model_store.ModelError, match="not a model version"):
        store.activate("latest")
    assert store.active_version() is None


def test_load_active_model_follows_activation_without_restart(two_models, tmp_path):
    a, b = two_models
    store = model_store.ModelStore(tmp_path / "models")
    store.add(a)
    store.add(b)
    models_dir = str(store.root)
    first = category.load_active_model(models_dir, recheck_s=0)
    assert first.version_label == "default"  # nothing activated yet: the packaged model
    store.activate(1)
    m1 = category.load_active_model(models_dir, recheck_s=0)
    assert m1.version == 1 and m1.labels == ("INVOICE", "ORDER", "REFUND")
    assert category.load_active_model(models_dir, recheck_s=0) is m1  # unchanged pointer: same object
    store.activate(2)
    m2 = category.load_active_model(models_dir, recheck_s=0)
    assert m2.version == 2 and m2.labels == ("DELIVERY", "PAYMENT")
    # within the recheck interval the cached model is served without looking at the pointer
    store.activate(1)
    assert category.load_active_model(models_dir, recheck_s=3600) is m2
    assert category.load_active_model(models_dir, recheck_s=0).version == 1


def test_a_pointer_to_a_broken_model_keeps_the_previous_one(two_models, tmp_path, caplog):
    store = model_store.ModelStore(tmp_path / "models")
    store.add(two_models[0])
    store.activate(1)
    assert category.load_active_model(str(store.root), recheck_s=0).version == 1
    time.sleep(0.01)
    store.active_file.write_text("9\n")  # written by hand, to a version that does not exist
    assert category.load_active_model(str(store.root), recheck_s=0).version == 1
    assert "category_model_failed" in caplog.text


def test_models_dir_for_settings(tmp_path):
    from helpline.store import config

    settings = config.Settings(data_dir=str(tmp_path))
    assert category.models_dir_for(settings) == os.path.join(str(tmp_path), "models")
