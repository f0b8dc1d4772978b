"""Training, evaluation, the fast single-message path and the category stage."""

from __future__ import annotations

import random

import numpy as np
import pytest

from helpline.router.categories import category
from helpline.router.categories import model_store
from helpline.router.categories import model_train
from helpline.router.categories.category_model import CategoryModel, _char_wb_columns, compose_text

from .conftest import bitext, stratified_slice


# ---- training and evaluation ----------------------------------------------------------------
def test_small_slice_trains_a_useful_model(small_model, test_data):
    result = model_train.evaluate(small_model, test_data)
    # 40 examples per category; the full default model reaches 1.0 on this split
    assert result["accuracy"] > 0.93, result["accuracy"]
    assert result["macro_f1"] > 0.93, result["macro_f1"]
    assert result["rows"] == 810
    assert set(result["per_class"]) == set(small_model.labels)
    for figures in result["per_class"].values():
        assert set(figures) == {"precision", "recall", "f1", "support"}
    cm = result["confusion"]
    assert cm["labels"] == sorted(small_model.labels)
    assert sum(map(sum, cm["matrix"])) == 810
    assert sum(cm["matrix"][i][i] for i in range(len(cm["labels"]))) == round(result["accuracy"] * 810)


def test_metadata_describes_the_training(small_model):
    meta = small_model.meta
    assert meta["labels"] == sorted(meta["labels"]) and len(meta["labels"]) == 11
    assert meta["training_rows"] == 440
    assert len(meta["training_data_sha256"]) == 64
    assert meta["held_out_metrics"]["macro_f1"] > 0.8
    assert "out-of-fold" in meta["held_out_metrics"]["method"]
    cv = meta["cross_validation"]
    assert cv["chosen_C"] == meta["pipeline"]["C"] and len(cv["grid"]) >= 3
    assert {g["C"] for g in cv["grid"]} >= {0.3, 1.0, 3.0}
    assert set(meta["libraries"]) >= {"scikit-learn", "numpy", "scipy", "skops"}
    assert meta["created_at"].endswith("+00:00")


def test_training_is_reproducible(train_data):
    data = stratified_slice(train_data, 15, seed=3)
    a = model_train.train(data)
    b = model_train.train(data)
    coef_a = a.pipeline[-1].calibrated_classifiers_[0].estimator.coef_
    coef_b = b.pipeline[-1].calibrated_classifiers_[0].estimator.coef_
    assert np.array_equal(coef_a, coef_b)
    # the temperature comes from the cross-validation's fits, run in parallel processes
    assert (
        a.pipeline[-1].calibrated_classifiers_[0].calibrators[0].beta_
        == b.pipeline[-1].calibrated_classifiers_[0].calibrators[0].beta_
    )
    assert a.meta["training_data_sha256"] == b.meta["training_data_sha256"]
    assert a.meta["pipeline"]["C"] == b.meta["pipeline"]["C"]


def test_holdout_option_measures_on_rows_kept_out(train_data):
    data = stratified_slice(train_data, 30, seed=1)
    model = model_train.train(data, model_train.TrainOptions(holdout=0.2, Cs=(1.0,)))
    held = model.meta["held_out_metrics"]
    assert held["rows"] == 11 * 6 and "held out" in held["method"]
    assert model.meta["training_rows"] == 11 * 24


def test_logistic_regression_variant(train_data, test_data):
    model = model_train.train(stratified_slice(train_data, 30), model_train.TrainOptions(classifier="logreg"))
    assert model_train.evaluate(model, test_data)["macro_f1"] > 0.9


def test_auto_keeps_the_classifier_that_cross_validates_better(train_data):
    data = stratified_slice(train_data, 20, seed=2)
    model = model_train.train(data, model_train.TrainOptions(classifier="auto", Cs=(1.0, 10.0)))
    choice = model.meta["cross_validation"]["classifiers"]
    chosen = choice["chosen"]
    assert set(choice) == {"svm", "logreg", "mlp", "chosen"}
    for other in ("svm", "logreg", "mlp"):
        assert (choice[chosen]["macro_f1"], choice[chosen]["accuracy"]) >= (
            choice[other]["macro_f1"],
            choice[other]["accuracy"],
        )
    # the saved pipeline is the chosen kind, described as such
    assert ("LinearSVC" in model.meta["pipeline"]["classifier"]) == (chosen == "svm")
    assert ("hidden layer" in model.meta["pipeline"]["classifier"]) == (chosen == "mlp")
    assert model.meta["cross_validation"]["grid"] == [
        g for g in model.meta["cross_validation"]["grid"] if g["C"] in (1.0, 10.0)
    ]
    # an explicit classifier trains that one alone, with no comparison recorded
    fixed = model_train.train(data, model_train.TrainOptions(classifier="svm", Cs=(1.0,)))
    assert "classifiers" not in fixed.meta["cross_validation"]
    with pytest.raises(model_train.TrainingError, match="classifier must be one of"):
        model_train.train(data, model_train.TrainOptions(classifier="forest"))


def test_single_example_labels_are_left_out_and_too_few_labels_refused(train_data):
    data = stratified_slice(train_data, 10, labels=["ORDER", "REFUND"])
    data.subjects.append("")
    data.texts.append("a lonely example")
    data.labels.append("RARE")
    model = model_train.train(data, model_train.TrainOptions(Cs=(1.0,)))
    assert model.labels == ("ORDER", "REFUND")
    assert model.meta["dropped_labels"] == {"RARE": 1}
    one = stratified_slice(train_data, 10, labels=["ORDER"])
    with pytest.raises(model_train.TrainingError, match="at least two labels"):
        model_train.train(one)


def test_read_csv_names_a_missing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("text,label\nhello,A\n", encoding="utf-8")
    with pytest.raises(model_train.TrainingError, match="no column 'category'.*text, label"):
        model_train.read_csv(path, "text", "category")


def test_compose_text_joins_and_bounds():
    assert compose_text("Order  late", "where\n\nis   it?") == "Order late\nwhere is it?"
    assert compose_text("", "  body ") == "body"
    assert compose_text(None, None) == ""
    assert len(compose_text("s", "x " * 5000, max_chars=300)) == 300


# ---- the fast path ----------------------------------------------------------------------------
def _odd_texts(test_data, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pool = test_data.texts
    texts = [pool[i] for i in rng.sample(range(len(pool)), n - 12)]
    texts += [
        "",  # nothing: the intercepts alone
        "zzzqqq xxyyzz",  # no known n-gram
        "ORDER!!! Where   is\tmy\n\npackage???",
        "Ünïcödé façade — naïve café ☕ 注文 заказ",
        "a b c d e f g",  # words shorter than the n-grams
        " ".join(rng.sample(pool, 30)),  # a long mail
        "refund " * 200,  # one word many times
        "\u00a0non\u2003breaking\u2028spaces\x1cand\x1fseparators",
        "I ORDERED, i ordered; I-ordered",
        "12345678901234567890 #4711 order@example.com https://example.com/x?y=1",
        "x",
        "\t\n",
    ]
    return texts


@pytest.mark.parametrize("classifier", ["svm", "logreg", "mlp"])
@pytest.mark.parametrize("n_labels", [11, 2])
def test_fast_path_equals_sklearn_predict_proba(train_data, test_data, classifier, n_labels):
    labels = None if n_labels == 11 else ["ORDER", "REFUND"]
    data = stratified_slice(train_data, 25, labels=labels)
    model = model_train.train(data, model_train.TrainOptions(classifier=classifier, Cs=(1.0,)))
    assert model._fast is not None
    texts = _odd_texts(test_data, 200)
    fast = np.array([model.predict_proba_one(t) for t in texts])
    ref = model.pipeline.predict_proba(texts)
    assert fast.shape == ref.shape == (200, n_labels)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-6)
    assert (fast.argmax(axis=1) == ref.argmax(axis=1)).all()
    np.testing.assert_allclose(fast.sum(axis=1), 1.0)


def test_fast_path_survives_a_save_and_load(small_model, test_data, tmp_path):
    path = model_store.save_model(small_model, tmp_path / "m.skops")
    loaded = model_store.load_model(path)
    texts = _odd_texts(test_data, 200, seed=5)
    np.testing.assert_allclose(
        [loaded.predict_proba_one(t) for t in texts], small_model.pipeline.predict_proba(texts), rtol=0, atol=1e-6
    )


def test_char_wb_columns_equal_the_vectorizer_analyzer(small_model, test_data):
    vec = dict(small_model.pipeline[0].transformer_list)["char"]
    columns = _char_wb_columns(vec)
    analyzer = vec.build_analyzer()
    rng = random.Random(7)
    alphabet = "abcdeéüß XYZ 0123 .,!?-'\t\n\u00a0\u2003\x1c"
    docs = _odd_texts(test_data, 60, seed=2) + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(300)
    ]
    for doc in docs:
        for _ in range(2):  # the second time from the word memo
            idx, counts = columns(doc)
            expect: dict[int, int] = {}
            for gram in analyzer(doc):
                j = vec.vocabulary_.get(gram)
                if j is not None:
                    expect[j] = expect.get(j, 0) + 1
            assert dict(zip(idx.tolist(), counts.tolist(), strict=True)) == expect, repr(doc)


def test_a_pipeline_of_another_shape_falls_back_to_sklearn(small_model):
    from sklearn.pipeline import Pipeline

    other = Pipeline(
        [("features", small_model.pipeline[0]), ("identity", "passthrough"), ("clf", small_model.pipeline[-1])]
    )
    model = CategoryModel(other, {})
    assert model._fast is None
    text = "where is my refund"
    np.testing.assert_allclose(model.predict_proba_one(text), small_model.predict_proba_one(text), atol=1e-6)


# ---- the stage ----------------------------------------------------------------------------------
def test_classify_a_clear_message(small_model):
    v3 = CategoryModel(small_model.pipeline, {**small_model.meta, "version": 3})
    d = category.classify("Refund", "I returned the item two weeks ago, when do I get my money back?", v3)
    assert d.category == "REFUND" and d.classified
    assert d.confidence >= 0.5 and d.runner_up and d.runner_up != "REFUND"
    assert d.reason.startswith(f"category 'REFUND' at {d.confidence:.2f}; runner-up ")
    assert d.reason.endswith("(model v3)")
    event = d.as_event()
    assert event["category"] == "REFUND" and event["model"] == "v3" and event["reason"] == d.reason


def test_classify_below_threshold_is_unclassified(small_model):
    d = category.classify("hello", "qwerty zxcv", small_model, threshold=0.999)
    assert d.category == category.UNCLASSIFIED and not d.classified
    assert d.predicted in small_model.labels and d.confidence < 0.999
    assert "is below the threshold 0.999" in d.reason
    assert d.reason.startswith(f"unclassified: best {d.predicted!r} at {d.confidence:.2f}")
    empty = category.classify("", "   ", small_model)
    assert empty.category == category.UNCLASSIFIED and "no subject or text" in empty.reason
    # above a low threshold a message with words the model knows is classified, a contentless one is not
    some = category.classify("hello", "I have a question about my thing", small_model, threshold=0.0)
    assert some.classified and some.category == some.predicted
    none = category.classify("hello", "qwerty zxcv", small_model, threshold=0.0)
    assert not none.classified and "greetings and fillers" in none.reason


def test_label_event_kinds():
    assert category.label_event("ORDER", "ORDER") == ("category_confirmed", {"category": "ORDER"})
    assert category.label_event("REFUND", "ORDER") == (
        "category_corrected",
        {"category": "REFUND", "previous": "ORDER"},
    )
    assert category.label_event("REFUND", None)[0] == "category_corrected"


def test_intent_labels_train_too(test_data):
    """Another taxonomy of the same data (27 intents): the pipeline is not tied to the categories."""
    data = stratified_slice(bitext(label="intent"), 20)
    model = model_train.train(data)
    test = bitext(test_data.source, label="intent")
    assert model_train.evaluate(model, test)["macro_f1"] > 0.85


@pytest.mark.parametrize("labels", [None, ["ORDER", "REFUND"]])
def test_calibration_shortcut_equals_calibrated_classifier_cv(train_data, test_data, labels):
    """Training reuses the cross-validation's out-of-fold scores for the temperature; the result must be
    what CalibratedClassifierCV(LinearSVC(C), method="temperature", ensemble=False).fit computes."""
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV

    data = stratified_slice(train_data, 20, labels=labels)
    options = model_train.TrainOptions(Cs=(1.0,))
    model = model_train.train(data, options)
    features, ours = model.pipeline[0], model.pipeline[-1]
    X = features.transform(data.composed())
    y = np.asarray(data.labels)
    splits = model_train._folds(y, options)
    reference = CalibratedClassifierCV(clone(ours.estimator), method="temperature", cv=splits, ensemble=False).fit(X, y)
    assert ours.calibrated_classifiers_[0].calibrators[0].beta_ == pytest.approx(
        reference.calibrated_classifiers_[0].calibrators[0].beta_, rel=1e-9
    )
    Xt = features.transform(test_data.composed())
    np.testing.assert_allclose(ours.predict_proba(Xt), reference.predict_proba(Xt), rtol=0, atol=1e-9)
    assert (ours.predict(Xt) == reference.predict(Xt)).all()
