"""The network classifier (``router/categories/mlp.py``): its lazy-Adam training, its hand-built
``MLPClassifier`` and its place in ``model_train``."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from helpline.router.categories import mlp, model_store, model_train

from .conftest import stratified_slice


def test_the_estimator_computes_what_the_trainer_computes():
    rng = np.random.RandomState(0)
    X = sparse.random(300, 500, density=0.03, format="csr", random_state=rng, dtype=np.float32)
    y = rng.randint(0, 4, 300)
    weights = mlp.fit(X, y, 4, 3, seed=1)
    clf = mlp.as_estimator(weights, np.array(["a", "b", "c", "d"]))
    np.testing.assert_allclose(clf.predict_proba(X), mlp.forward(weights, X), rtol=1e-5, atol=1e-6)
    assert list(clf.predict(X[:5])) == list(np.array(["a", "b", "c", "d"])[mlp.forward(weights, X[:5]).argmax(1)])


def test_it_learns_what_no_linear_model_can():
    # the label is the XOR of two words' presence: a linear model over the words is at chance
    rng = np.random.RandomState(3)
    n = 2000
    a, b = rng.randint(0, 2, n), rng.randint(0, 2, n)
    noise = sparse.random(n, 50, density=0.05, format="csr", random_state=rng, dtype=np.float32)
    X = sparse.hstack([sparse.csr_matrix(np.column_stack([a, b]).astype(np.float32)), noise]).tocsr()
    y = a ^ b
    weights = mlp.fit(X[:1500], y[:1500], 2, 30, seed=0)
    acc = (mlp.forward(weights, X[1500:]).argmax(1) == y[1500:]).mean()
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression().fit(X[:1500], y[:1500]).score(X[1500:], y[1500:])
    assert acc > 0.95 and linear < 0.7, (acc, linear)


def test_class_balanced_weights_match_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 0, 0, 1, 2, 2])
    expect = compute_class_weight("balanced", classes=np.arange(3), y=y)[y]
    np.testing.assert_allclose(mlp.balanced_weights(y, 3), expect, rtol=1e-6)


def test_training_is_seeded(train_data):
    data = stratified_slice(train_data, 15, seed=4)
    options = model_train.TrainOptions(classifier="mlp", Cs=(3, 5))
    a, b = model_train.train(data, options), model_train.train(data, options)
    assert a.meta["pipeline"]["C"] == b.meta["pipeline"]["C"] in (3.0, 5.0)
    assert [g["epochs"] for g in a.meta["cross_validation"]["grid"]] == [3, 5]
    for wa, wb in zip(a.pipeline[-1].coefs_, b.pipeline[-1].coefs_, strict=True):
        assert np.array_equal(wa, wb)


def test_a_network_model_classifies_saves_and_loads(train_data, test_data, tmp_path):
    model = model_train.train(stratified_slice(train_data, 30), model_train.TrainOptions(classifier="mlp"))
    assert "hidden layer" in model.meta["pipeline"]["classifier"]
    assert model_train.evaluate(model, test_data)["macro_f1"] > 0.9
    # only scikit-learn's public types: skops loads it without a trust list of its own
    path = model_store.save_model(model, tmp_path / "m.skops")
    assert model_store.untrusted_types(path) == []
    loaded = model_store.load_model(path)
    texts = test_data.texts[:50]
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), rtol=0, atol=1e-9)
    np.testing.assert_allclose([loaded.predict_proba_one(t) for t in texts], model.predict_proba(texts), atol=1e-6)
