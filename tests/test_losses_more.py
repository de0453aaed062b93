"""Sparse, smoothed, focal and Huber losses against numpy; sample and class weights in `fit`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit import losses
from stackit.layers import fully_connected, input_data, regression
from stackit.layers.base import layer_from_config

RNG = np.random.default_rng(7)
N, C = 6, 4


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_categorical(p, y, ls=0.0):
    y = y * (1 - ls) + ls / y.shape[-1]
    return -np.sum(y * np.log(p), axis=-1)


def np_binary(p, y, ls=0.0):
    y = y * (1 - ls) + ls / 2
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)


def np_focal(p, y, gamma, alpha=None):
    a = 1.0 if alpha is None else np.asarray(alpha)
    return -np.sum(a * y * (1 - p) ** gamma * np.log(p), axis=-1)


def np_binary_focal(p, y, gamma, alpha=None):
    pos, neg = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    return -np.mean(pos * y * (1 - p) ** gamma * np.log(p)
                    + neg * (1 - y) * p ** gamma * np.log(1 - p), axis=-1)


def np_huber(pred, y, delta):
    e = np.abs(pred - y)
    return np.mean(np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)), axis=-1)


def f32(*arrays):
    return [jnp.asarray(a, jnp.float32) for a in arrays]


@pytest.fixture
def classes():
    logits = RNG.normal(size=(N, C)) * 2
    labels = RNG.integers(0, C, N)
    return logits, labels, np.eye(C)[labels]


def both_paths(loss_object, logits, y, activation):
    """The loss on probabilities (the network's output) and on logits (its stable form)."""
    loss = losses.get(loss_object)
    probs = jax.nn.softmax(logits) if activation == "softmax" else jax.nn.sigmoid(logits)
    on_probs = np.asarray(loss.fn(probs, y))
    assert loss.stable_activation == activation
    on_logits = np.asarray(loss.stable_fn(logits, y))
    return on_probs, on_logits


# ------------------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("ls", [0.0, 0.1, 1.0])
def test_categorical_crossentropy_with_label_smoothing(classes, ls):
    logits, _, y = classes
    want = np_categorical(np_softmax(logits), y, ls)
    on_probs, on_logits = both_paths(losses.CategoricalCrossentropy(label_smoothing=ls),
                                     *f32(logits, y), "softmax")
    np.testing.assert_allclose(on_probs, want, rtol=1e-5)
    np.testing.assert_allclose(on_logits, want, rtol=1e-5)
    from_logits = losses.get(losses.CategoricalCrossentropy(ls, from_logits=True))
    assert from_logits.logits_of == "softmax"
    np.testing.assert_allclose(from_logits.fn(*f32(logits, y)), want, rtol=1e-5)


@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_binary_crossentropy_with_label_smoothing(ls):
    logits = RNG.normal(size=(N, 3)) * 2
    y = RNG.integers(0, 2, (N, 3)).astype(float)
    want = np_binary(np_sigmoid(logits), y, ls)
    on_probs, on_logits = both_paths(losses.BinaryCrossentropy(label_smoothing=ls),
                                     *f32(logits, y), "sigmoid")
    np.testing.assert_allclose(on_probs, want, rtol=1e-4)
    np.testing.assert_allclose(on_logits, want, rtol=1e-5)
    # tflearn's name reads outputs as logits, as BinaryCrossentropy(from_logits=True)
    named = losses.get("binary_crossentropy")
    assert named.logits_of == "sigmoid"
    smoothed = losses.get(losses.BinaryCrossentropy(ls, from_logits=True))
    np.testing.assert_allclose(smoothed.fn(*f32(logits, y)), want, rtol=1e-5)
    np.testing.assert_allclose(losses.binary_crossentropy(*f32(logits, y), label_smoothing=ls),
                               want, rtol=1e-5)


@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_sparse_categorical_crossentropy_equals_the_one_hot_form(classes, ls, label_shape):
    logits, labels, y = classes
    ids = labels if label_shape == "flat" else labels[:, None]
    want = np_categorical(np_softmax(logits), y, ls)
    on_probs, on_logits = both_paths(losses.SparseCategoricalCrossentropy(label_smoothing=ls),
                                     *f32(logits), jnp.asarray(ids, jnp.int32), "softmax")
    np.testing.assert_allclose(on_probs, want, rtol=1e-5)
    np.testing.assert_allclose(on_logits, want, rtol=1e-5)
    named = losses.get("sparse_softmax_categorical_crossentropy")
    assert named.logits_of == "softmax" and named.sparse
    if not ls:
        np.testing.assert_allclose(named.fn(jnp.asarray(logits), jnp.asarray(ids)), want,
                                   rtol=1e-5)


def test_sparse_crossentropy_on_nd_outputs_gives_one_value_per_sample():
    logits = RNG.normal(size=(N, 3, C))
    labels = RNG.integers(0, C, (N, 3))
    want = np_categorical(np_softmax(logits), np.eye(C)[labels]).mean(axis=1)
    got = losses.sparse_softmax_categorical_crossentropy(jnp.asarray(logits),
                                                         jnp.asarray(labels))
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("alpha", [None, 0.25, (0.1, 0.2, 0.3, 0.4)])
def test_focal_loss(classes, alpha):
    logits, _, y = classes
    want = np_focal(np_softmax(logits), y, 2.0, alpha)
    on_probs, on_logits = both_paths(losses.FocalLoss(alpha=alpha), *f32(logits, y), "softmax")
    np.testing.assert_allclose(on_probs, want, rtol=1e-5)
    np.testing.assert_allclose(on_logits, want, rtol=1e-5)
    # gamma=0 without alpha is the cross-entropy
    plain = losses.get(losses.FocalLoss(gamma=0.0))
    np.testing.assert_allclose(plain.stable_fn(*f32(logits, y)),
                               np_categorical(np_softmax(logits), y), rtol=1e-5)


def test_focal_loss_has_finite_gradients_on_saturated_logits():
    saturated = jnp.asarray([[200.0, 0.0, 0.0], [0.0, -200.0, 0.0]])
    y = jnp.asarray(np.eye(3)[[0, 1]])
    for gamma in (0.0, 0.5, 2.0):
        loss = losses.get(losses.FocalLoss(gamma=gamma))
        grad = jax.grad(lambda z, loss=loss: loss.stable_fn(z, y).sum())(saturated)
        assert np.isfinite(np.asarray(grad)).all()


@pytest.mark.parametrize("alpha", [None, 0.25])
def test_binary_focal_loss(alpha):
    logits = RNG.normal(size=(N, 2)) * 2
    y = RNG.integers(0, 2, (N, 2)).astype(float)
    want = np_binary_focal(np_sigmoid(logits), y, 2.0, alpha)
    on_probs, on_logits = both_paths(losses.BinaryFocalLoss(alpha=alpha), *f32(logits, y),
                                     "sigmoid")
    np.testing.assert_allclose(on_probs, want, rtol=1e-4)
    np.testing.assert_allclose(on_logits, want, rtol=1e-5)
    np.testing.assert_allclose(losses.binary_focal_loss(*f32(logits, y), alpha=alpha), want,
                               rtol=1e-5)
    # gamma=0 without alpha is the binary cross-entropy
    np.testing.assert_allclose(losses.binary_focal_loss(*f32(logits, y), gamma=0.0),
                               np_binary(np_sigmoid(logits), y), rtol=1e-5)


@pytest.mark.parametrize("delta", [1.0, 2.5])
def test_huber_loss(delta):
    pred, y = RNG.normal(size=(N, 3)) * 3, RNG.normal(size=(N, 3))
    loss = losses.get(losses.Huber(delta))
    np.testing.assert_allclose(loss.fn(*f32(pred, y)), np_huber(pred, y, delta), rtol=1e-5)
    assert loss.logits_of is None and loss.stable_fn is None
    # the gradient is the error, clipped to [-delta, delta]
    grad = jax.grad(lambda p: loss.fn(p, jnp.zeros((1, 1))).sum())(jnp.asarray([[10.0]]))
    assert float(grad[0, 0]) == pytest.approx(delta)


# ------------------------------------------------------------------------------ names, objects


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "focal_loss",
                                  "binary_focal_loss", "huber_loss"])
def test_new_names_resolve_to_their_functions(name):
    loss = losses.get(name.upper())
    assert loss.fn is getattr(losses, name)


def test_loss_objects_are_saved_with_the_estimator():
    net = fully_connected(input_data(shape=[None, 3]), 4, activation="softmax")
    for loss in (losses.CategoricalCrossentropy(label_smoothing=0.1), losses.Huber(2.0),
                 losses.FocalLoss(alpha=[0.1, 0.2, 0.3, 0.4]),
                 losses.SparseCategoricalCrossentropy(from_logits=True)):
        est = regression(net, loss=loss, metric=None).layer
        config = est.get_config()
        assert config["loss"]["type"] == type(loss).__name__
        rebuilt = layer_from_config({**config, "name": f"{est.name}_copy"})
        assert rebuilt.loss == loss


@pytest.mark.parametrize("make, match", [
    (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), r"label_smoothing must be a "
                                                                   r"finite number in \[0, 1\]"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=-0.1), "label_smoothing"),
    (lambda: losses.FocalLoss(gamma=-1.0), "gamma must be a finite number >= 0"),
    (lambda: losses.FocalLoss(alpha=[0.5, -1.0]), "alpha must be None, a number or one"),
    (lambda: losses.BinaryFocalLoss(alpha=1.5), r"alpha must be a finite number in \[0, 1\]"),
    (lambda: losses.Huber(delta=0.0), "delta must be a finite number > 0"),
])
def test_bad_loss_parameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    with pytest.raises(TypeError, match="from_logits must be a bool"):
        losses.SparseCategoricalCrossentropy(from_logits="yes")


# ------------------------------------------------------------------------------ in a model


def _softmax_model(n_in, n_out, *, loss="categorical_crossentropy", activation="softmax",
                   lr=0.5, batch_size=64, metric="default", seed=0):
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, n_in])
    out = fully_connected(net, n_out, activation=activation)
    reg = regression(out, optimizer="sgd", loss=loss, metric=metric, learning_rate=lr,
                     batch_size=batch_size)
    return stackit.DNN(reg, seed=seed), out


def _data(n, n_in=3, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(np.float32)
    labels = rng.integers(0, n_classes, n)
    return x, labels, np.eye(n_classes, dtype=np.float32)[labels]


def test_smoothed_loss_in_a_model_works_from_logits_and_matches_numpy():
    x, labels, y = _data(12)
    model, out = _softmax_model(3, 3, loss=losses.CategoricalCrossentropy(label_smoothing=0.2),
                                lr=0.0)
    assert model.heads[0].logits  # the softmax is stripped for the loss
    want = np_categorical(model.predict(x).astype(np.float64), y, 0.2).mean()
    assert model.fit_batch(x, y) == pytest.approx(want, rel=1e-5)
    # a linear output read as logits (Keras's from_logits=True); the metric sees softmax
    linear, _ = _softmax_model(3, 3, loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                               activation="linear", lr=0.0)
    z = linear.predict(x).astype(np.float64)
    assert linear.fit_batch(x, labels) == pytest.approx(np_categorical(np_softmax(z), y).mean(),
                                                        rel=1e-5)
    assert linear.evaluate(x, labels)[0] == pytest.approx(np.mean(z.argmax(1) == labels))


def test_sparse_training_equals_one_hot_training_with_the_same_seed():
    x, labels, y = _data(50)  # 50 = 3 batches of 16 and a padded one of 2
    sparse, out_s = _softmax_model(3, 3, loss="sparse_categorical_crossentropy", batch_size=16)
    dense, out_d = _softmax_model(3, 3, loss="categorical_crossentropy", batch_size=16)
    h_sparse = sparse.fit(x, labels, n_epoch=3, validation_set=0.2, show_metric=True, verbose=0)
    h_dense = dense.fit(x, y, n_epoch=3, validation_set=0.2, show_metric=True, verbose=0)
    for key in ("loss", "acc", "val_loss", "val_acc"):
        np.testing.assert_allclose(h_sparse.history[key], h_dense.history[key], rtol=1e-5)
    np.testing.assert_allclose(sparse.get_weights(out_s.W), dense.get_weights(out_d.W),
                               rtol=1e-5, atol=1e-7)
    # accuracy (and top-k) take integer targets, flat or as a column
    assert sparse.evaluate(x, labels[:, None]) == pytest.approx(dense.evaluate(x, y))
    assert stackit.metrics.accuracy_op(sparse.predict(x), labels) == pytest.approx(
        dense.evaluate(x, y)[0])


@pytest.mark.parametrize("bad, match", [
    (lambda lab, y: y, r"integer class ids of shape \(None,\) or \(None, 1\).*It looks one-hot"),
    (lambda lab, y: np.where(lab == 0, 3, lab), r"class id outside \[0, 3\).*Y\[\(\d+,\)\]=3"),
    (lambda lab, y: lab + 0.5, r"integer class ids. Received: Y\[\(0,\)\]="),
    (lambda lab, y: lab.astype(str), "must be numeric"),
])
def test_sparse_targets_are_checked(bad, match):
    x, labels, y = _data(12)
    model, _ = _softmax_model(3, 3, loss="sparse_categorical_crossentropy")
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(x, bad(labels, y), n_epoch=1, verbose=0)
    assert model.steps.train_chunk._cache_size() == 0


def test_sparse_targets_may_be_whole_floats():
    x, labels, y = _data(12)
    model, _ = _softmax_model(3, 3, loss="sparse_categorical_crossentropy", lr=0.0)
    want = np_categorical(model.predict(x).astype(np.float64), y).mean()
    assert model.fit_batch(x, labels.astype(np.float32)) == pytest.approx(want, rel=1e-5)


def test_sparse_loss_needs_a_class_axis_and_no_to_one_hot():
    net = fully_connected(input_data(shape=[None, 3]), 1, activation="sigmoid")
    with pytest.raises(ValueError, match=r"one unit per class \(at least 2\).*\(None, 1\)"):
        stackit.DNN(regression(net, loss="sparse_categorical_crossentropy"))
    net = fully_connected(input_data(shape=[None, 3]), 3, activation="softmax")
    with pytest.raises(ValueError, match="drop to_one_hot=True"):
        regression(net, loss="sparse_categorical_crossentropy", to_one_hot=True, n_classes=3)
    with pytest.raises(ValueError, match="has 2 alpha values but the output has 3 classes"):
        stackit.DNN(regression(net, loss=losses.FocalLoss(alpha=[1.0, 2.0])))


# ------------------------------------------------------------------------------ loss weights


def np_sgd_epoch(x, y, w, W, b, lr, batch_size):
    """numpy reference of one unshuffled epoch of SGD on `softmax(x W + b)` with weights `w`
    rescaled to mean 1; each batch's loss is `sum(w_i l_i)` over its real rows / their number.
    Returns (W, b, the epoch's reported loss)."""
    w = w * len(w) / w.sum()
    total = 0.0
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)
        xb, yb, wb = x[rows], y[rows], w[rows]
        p = np_softmax(xb @ W + b)
        total += np.sum(wb * np_categorical(p, yb))
        dz = wb[:, None] * (p - yb) / len(xb)
        W, b = W - lr * xb.T @ dz, b - lr * dz.sum(axis=0)
    return W, b, total / len(x)


def _start(model, out):
    return model.get_weights(out.W).astype(np.float64), model.get_weights(out.b).astype(np.float64)


@pytest.mark.parametrize("weighting", ["sample", "class", "both"])
def test_one_step_with_weights_matches_the_weighted_mean_loss(weighting):
    x, labels, y = _data(12)
    sample_weight = np.linspace(0.0, 3.0, 12)
    class_weight = {0: 0.5, 2: 4.0}  # class 1 left out: weight 1
    w = np.ones(12)
    if weighting in ("sample", "both"):
        w = w * sample_weight
    if weighting in ("class", "both"):
        w = w * np.array([0.5, 1.0, 4.0])[labels]
    model, out = _softmax_model(3, 3, batch_size=12)
    W, b, want_loss = np_sgd_epoch(x, y, w, *_start(model, out), lr=0.5, batch_size=12)
    p0 = np_softmax(x @ _start(model, out)[0] + _start(model, out)[1])
    assert want_loss == pytest.approx(np.sum(w * np_categorical(p0, y)) / w.sum())
    history = model.fit(
        x, y, n_epoch=1, shuffle=False, verbose=0,
        sample_weight=sample_weight if weighting != "class" else None,
        class_weight=class_weight if weighting != "sample" else None)
    assert history.history["loss"][0] == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(model.get_weights(out.W), W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights(out.b), b, rtol=1e-5, atol=1e-6)


def test_padded_last_batch_weighs_right_and_validation_stays_unweighted():
    x, labels, y = _data(13)  # 10 for training: batches of 4, 4 and 2 (+ 2 padding rows)
    w = np.ones(13)
    w[0] = 50.0  # padding rows are gathered from row 0: any leak would show
    w[3] = 0.0
    model, out = _softmax_model(3, 3, batch_size=4)
    W, b, want_loss = np_sgd_epoch(x[:10], y[:10], w[:10], *_start(model, out), lr=0.5,
                                   batch_size=4)
    history = model.fit(x, y, n_epoch=1, shuffle=False, verbose=0, validation_set=0.25,
                        sample_weight=w)
    assert history.history["loss"][0] == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(model.get_weights(out.W), W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights(out.b), b, rtol=1e-5, atol=1e-6)
    val_p = np_softmax(x[10:] @ W + b)
    assert history.history["val_loss"][0] == pytest.approx(
        np_categorical(val_p, y[10:]).mean(), rel=1e-5)
    assert model.steps.train_chunk._cache_size() == 1  # the short batch did not recompile


def test_validation_triple_and_evaluate_weigh_the_loss_only():
    x, labels, y = _data(20)
    vw = np.linspace(0.0, 2.0, 8)
    model, out = _softmax_model(3, 3, batch_size=5, lr=0.0, metric="accuracy")
    history = model.fit(x[:12], y[:12], n_epoch=1, verbose=0, show_metric=True,
                        validation_set=(x[12:], y[12:], vw), validation_batch_size=3)
    per_sample = np_categorical(model.predict(x[12:]).astype(np.float64), y[12:])
    want = np.sum(vw * per_sample) / vw.sum()
    assert history.history["val_loss"][0] == pytest.approx(want, rel=1e-5)
    correct = np.mean(model.predict(x[12:]).argmax(1) == labels[12:])
    assert history.history["val_acc"][0] == pytest.approx(correct)  # metrics stay unweighted
    scores = model.evaluate(x[12:], y[12:], batch_size=3, sample_weight=vw, return_dict=True)
    assert scores["loss"] == pytest.approx(want, rel=1e-5)
    assert scores["acc"] == pytest.approx(correct)
    assert model.evaluate(x[12:], y[12:], return_dict=True)["loss"] == pytest.approx(
        per_sample.mean(), rel=1e-5)
    with pytest.raises(ValueError, match="Every validation sample of regression"):
        model.fit(x[:12], y[:12], n_epoch=1, verbose=0,
                  validation_set=(x[12:], y[12:], np.zeros(8)))
    with pytest.raises(ValueError, match=r"\(X, Y, sample_weight\) triple. Received: tuple of 4"):
        model.fit(x[:12], y[:12], n_epoch=1, verbose=0,
                  validation_set=(x[12:], y[12:], vw, vw))
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(x[12:], y[12:], sample_weight=vw[:5])


def test_keras_style_compile_and_fit_take_weights_with_sparse_labels():
    x, labels, y = _data(12)
    sample_weight, class_weight = np.arange(1.0, 13.0), {0: 2.0, 1: 0.25}
    w = sample_weight * np.array([2.0, 0.25, 1.0])[labels]
    model = stackit.Sequential([stackit.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", learning_rate=0.0,
                  loss=losses.SparseCategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    history = model.fit(x, labels[:, None], epochs=1, batch_size=5, verbose=0,
                        sample_weight=sample_weight, class_weight=class_weight)
    p = model.predict(x).astype(np.float64)
    per_sample = np_categorical(p, y, 0.1)
    assert history.history["loss"][0] == pytest.approx(np.sum(w * per_sample) / w.sum(),
                                                       rel=1e-5)
    assert history.history["acc"][0] == pytest.approx(np.mean(p.argmax(1) == labels))  # unweighted
    assert model.fit_batch(x, labels, sample_weight=sample_weight) == pytest.approx(
        np.sum(sample_weight * per_sample) / sample_weight.sum(), rel=1e-5)


def test_binary_class_weight_equals_the_matching_sample_weight():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x[:, :1] > 0.3).astype(np.float32)  # a single sigmoid unit: class = target > 0.5
    results = []
    for kwargs in ({"class_weight": {1: 3.0}}, {"sample_weight": np.where(y[:, 0] > 0.5, 3, 1)}):
        stackit.layers.reset_default_graph()
        out = fully_connected(input_data(shape=[None, 3]), 1, activation="sigmoid")
        model = stackit.DNN(regression(out, optimizer="sgd", loss="binary_crossentropy",
                                       learning_rate=0.5, batch_size=8), seed=0)
        history = model.fit(x, y, n_epoch=2, verbose=0, **kwargs)
        results.append((history.history["loss"], model.get_weights(out.W)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)


def _two_heads():
    """A classifier 'clf' and a regressor 'reg' on one input; SGD with a zero learning rate."""
    net = input_data(shape=[None, 3])
    clf = fully_connected(net, 3, activation="softmax")
    reg = fully_connected(net, 1)
    heads = [regression(clf, optimizer="sgd", learning_rate=0.0, name="clf", batch_size=12),
             regression(reg, optimizer="sgd", loss="mean_square", metric=None, learning_rate=0.0,
                        name="reg", batch_size=12)]
    return stackit.DNN(heads, seed=0)


@pytest.mark.parametrize("sample_weight, class_weight, weighs", [
    (np.linspace(1, 2, 12), None, ("clf", "reg")),      # an array weighs every estimator
    ({"reg": np.linspace(1, 2, 12)}, None, ("reg",)),    # a dict, the estimators it names
    (None, {0: 3.0}, ("clf",)),                          # class weights: the classifier
    (None, {"clf": {0: 3.0}}, ("clf",)),
])
def test_weights_with_several_estimators(sample_weight, class_weight, weighs):
    x, labels, y = _data(12)
    t = np.random.default_rng(2).normal(size=(12, 1)).astype(np.float32)
    model = _two_heads()
    history = model.fit(x, {"clf": y, "reg": t}, n_epoch=1, verbose=0,
                        sample_weight=sample_weight, class_weight=class_weight)
    p, r = (a.astype(np.float64) for a in model.predict(x))
    per_sample = {"clf": np_categorical(p, y), "reg": ((r - t) ** 2)[:, 0]}
    for name, values in per_sample.items():
        w = np.ones(12)
        if name in weighs and class_weight is not None:
            w = np.where(labels == 0, 3.0, 1.0)
        elif name in weighs:
            w = np.linspace(1, 2, 12)
        assert history.history[f"{name}_loss"][0] == pytest.approx(
            np.sum(w * values) / w.sum(), rel=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sample_weight": np.ones(11)}, ValueError, r"one weight per sample: shape \(12,\).*\(11,\)"),
    ({"sample_weight": np.ones((12, 2))}, ValueError, r"Received: sample_weight.shape=\(12, 2\)"),
    ({"sample_weight": np.r_[np.ones(11), -1.0]}, ValueError,
     r"finite weights >= 0. Received: sample_weight\[11\]=-1.0"),
    ({"sample_weight": np.r_[np.nan, np.ones(11)]}, ValueError, r"sample_weight\[0\]=nan"),
    ({"sample_weight": ["a"] * 12}, TypeError, "must hold numbers"),
    ({"sample_weight": np.zeros(12)}, ValueError, "has weight 0.*nothing to learn from"),
    ({"class_weight": {3: 1.0}}, ValueError, r"has the class 3, .*classes are 0..2"),
    ({"class_weight": {"cat": 1.0}}, TypeError, "keyed by class ids"),
    ({"class_weight": {0: -2.0}}, ValueError, r"class_weight\[0\] must be a finite weight >= 0"),
    ({"class_weight": [1.0, 2.0]}, TypeError, r"class_weight must be a dict"),
    ({"sample_weight": {"other": np.ones(12)}}, ValueError,
     r"sample_weight has the key 'other', which names none of this model's estimators"),
])
def test_bad_weights_are_refused_before_compiling(kwargs, error, match):
    x, _, y = _data(12)
    model, _ = _softmax_model(3, 3)
    with pytest.raises(error, match=match):
        model.fit(x, y, n_epoch=1, verbose=0, **kwargs)
    assert model.steps.train_chunk._cache_size() == 0


def test_class_weight_needs_one_class_per_sample():
    x, _, y = _data(12)
    out = fully_connected(input_data(shape=[None, 3]), 3)
    model = stackit.DNN(regression(out, loss="mean_square", metric=None), seed=0)
    with pytest.raises(ValueError, match=r"no estimator whose targets name one class"):
        model.fit(x, y, n_epoch=1, verbose=0, class_weight={0: 2.0})
    with pytest.raises(ValueError, match=r"do not give one class per sample.*loss='mean_square'"):
        model.fit(x, y, n_epoch=1, verbose=0, class_weight={"Regression": {0: 2.0}})
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 3])
    both = stackit.DNN([regression(fully_connected(net, 3, activation="softmax"), name=name)
                        for name in ("a", "b")], seed=0)
    with pytest.raises(ValueError, match=r"several classification estimators \['a', 'b'\]"):
        both.fit(x, [y, y], n_epoch=1, verbose=0, class_weight={0: 2.0})
