"""Tests for the model API around fit: the Keras spelling, weights, predict, predict_label,
evaluate and summary."""

import numpy as np
import pytest
from rich.console import Console

import stackit
from stackit.callbacks import Callback
from stackit.layers import fully_connected, input_data, regression


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _data(n, n_in, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(np.float32)
    labels = rng.integers(0, n_classes, n)
    return x, labels, np.eye(n_classes, dtype=np.float32)[labels]


# ------------------------------------------------------------------------------ Keras spelling


def test_keras_spelling_trains_exactly_like_the_tflearn_spelling():
    x, _, y = _data(120, 6, 10)
    xv, _, yv = _data(30, 6, 10, seed=1)

    keras = stackit.Sequential([stackit.layers.Dense(32, activation="relu"),
                                stackit.layers.Dense(10, activation="softmax")], seed=0)
    keras.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    keras_history = keras.fit(x, y, epochs=3, validation_data=(xv, yv), verbose=0)

    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 6])
    net = fully_connected(net, 32, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    net = regression(net, optimizer="adam", loss="categorical_crossentropy", learning_rate=0.001)
    tflearn = stackit.DNN(net, seed=0)
    tflearn_history = tflearn.fit(x, y, n_epoch=3, validation_set=(xv, yv), verbose=0)

    assert set(keras_history.history) == {"loss", "acc", "val_loss", "val_acc", "lr"}
    assert all(len(values) == 3 for values in keras_history.history.values())
    assert keras_history.history["loss"][-1] < keras_history.history["loss"][0]
    assert keras_history.history == tflearn_history.history
    assert keras_history.epoch == tflearn_history.epoch == [1, 2, 3]
    for name in ("FullyConnected/W", "FullyConnected/b", "FullyConnected_1/W",
                 "FullyConnected_1/b"):
        np.testing.assert_array_equal(keras.get_weights(name), tflearn.get_weights(name))


class _Samples(Callback):
    def on_train_begin(self, state):
        self.n_samples = state.n_samples


def test_keras_validation_split_holds_out_the_last_samples():
    x, _, y = _data(120, 6, 3)
    model = stackit.Sequential([stackit.layers.Dense(16, activation="relu"),
                                stackit.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    seen = _Samples()

    history = model.fit(x, y, epochs=1, validation_split=0.25, callbacks=[seen], verbose=0)

    assert seen.n_samples == 90
    held_out = model.evaluate(x[90:], y[90:], batch_size=64)
    assert history.history["val_acc"] == pytest.approx(held_out, abs=1e-6)


# ------------------------------------------------------------------------------ weights


def test_get_and_set_weights_through_handles_and_layer_names():
    net = input_data(shape=[None, 4])
    hidden = fully_connected(net, 8, activation="relu")
    out = fully_connected(hidden, 3, activation="softmax")
    model = stackit.DNN(regression(out), seed=0)

    assert model.get_weights(hidden.W).shape == (4, 8)
    assert model.get_weights(hidden.b).shape == (8,)
    handles = stackit.variables.get_layer_variables_by_name("FullyConnected")
    assert handles == [hidden.W, hidden.b]
    assert stackit.get_layer_variables_by_name("FullyConnected_1") == [out.W, out.b]
    np.testing.assert_array_equal(model.get_weights(handles[0]), model.get_weights(hidden.W))
    np.testing.assert_array_equal(model.get_weights("FullyConnected/W"),
                                  model.get_weights(hidden.W))

    new = np.arange(32, dtype=np.float32).reshape(4, 8)
    model.set_weights(handles[0], new)
    np.testing.assert_array_equal(model.get_weights(hidden.W), new)
    model.set_weights("FullyConnected_1/b", [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(model.get_weights(out.b), [1.0, 2.0, 3.0])

    with pytest.raises(ValueError, match=r"FullyConnected/W has shape \(4, 8\).*\(8, 4\)"):
        model.set_weights(hidden.W, new.T)
    poisoned = new.copy()
    poisoned[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"FullyConnected/W must hold finite numbers\. "
                                         r"Received: nan at index \(1, 2\)"):
        model.set_weights(hidden.W, poisoned)
    with pytest.raises(ValueError, match=r"inf at index \(0,\)"):
        stackit.variables.set_value(out.b, [np.inf, 0.0, 0.0], session=model.session)
    np.testing.assert_array_equal(model.get_weights(hidden.W), new)  # unchanged
    with pytest.raises(ValueError, match=r"no parameter Nope/W.*FullyConnected/W"):
        model.get_weights("Nope/W")
    with pytest.raises(ValueError, match=r"No layer named 'Nope'"):
        stackit.variables.get_layer_variables_by_name("Nope")


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"clip_gradients": "5"}, TypeError,
     r"clip_gradients must be a number \(0 disables clipping\)\. Received: clip_gradients='5'"),
    ({"clip_gradients": -1.0}, ValueError, r"clip_gradients must be >= 0.*clip_gradients=-1\.0"),
    ({"clip_gradients": None}, TypeError, r"clip_gradients=None"),
    ({"seed": "abc"}, TypeError, r"seed must be an int or None\. Received: seed='abc'"),
    ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*63\)\. Received: seed=-1"),
    ({"seed": 1.5}, TypeError, r"seed=1\.5"),
    ({"max_checkpoints": "3"}, ValueError, r"max_checkpoints must be a positive int.*'3'"),
    ({"max_checkpoints": 0}, ValueError, r"max_checkpoints=0"),
])
def test_dnn_refuses_bad_constructor_arguments(kwargs, error, match):
    net = regression(fully_connected(input_data(shape=[None, 4]), 3, activation="softmax"))
    with pytest.raises(error, match=match):
        stackit.DNN(net, **kwargs)


def test_init_graph_refuses_a_negative_seed():
    with pytest.raises(ValueError, match=r"init_graph: seed must be in \[0, 2\*\*63\).*-1"):
        stackit.init_graph(seed=-1)


def test_get_weights_returns_a_copy_that_training_does_not_change():
    x, _, y = _data(40, 4, 3)
    net = input_data(shape=[None, 4])
    out = fully_connected(net, 3, activation="softmax")
    model = stackit.DNN(regression(out, optimizer="sgd", learning_rate=0.5, batch_size=8), seed=0)
    before = model.get_weights(out.W)
    saved = before.copy()

    model.fit(x, y, n_epoch=1, verbose=0)

    np.testing.assert_array_equal(before, saved)
    assert not np.array_equal(model.get_weights(out.W), saved)


# ------------------------------------------------------------------------------ predict, evaluate


@pytest.fixture
def known_model():
    """An MLP with fixed weights, and a numpy function computing its output."""
    net = input_data(shape=[None, 4])
    hidden = fully_connected(net, 8, activation="relu")
    out = fully_connected(hidden, 3, activation="softmax")
    model = stackit.DNN(regression(out, metric="accuracy"), seed=0)
    rng = np.random.default_rng(7)
    weights = {hidden.W: rng.normal(size=(4, 8)), hidden.b: rng.normal(size=8),
               out.W: rng.normal(size=(8, 3)), out.b: rng.normal(size=3)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    for handle, value in weights.items():
        model.set_weights(handle, value)

    def forward(x):
        h = np.maximum(x @ weights[hidden.W] + weights[hidden.b], 0.0)
        return _softmax(h.astype(np.float64) @ weights[out.W] + weights[out.b])

    return model, forward


def test_predict_matches_numpy_and_pads_without_recompiling(known_model):
    model, forward = known_model
    x, _, _ = _data(300, 4, 3)

    scores = model.predict(x, batch_size=128)  # 3 batches run as one of 4 (padded)

    assert scores.shape == (300, 3)
    np.testing.assert_allclose(scores, forward(x), rtol=1e-5, atol=1e-6)
    assert model.steps.predict_batch._cache_size() == 1
    np.testing.assert_allclose(model.predict(x[:260]), scores[:260], rtol=1e-6, atol=1e-7)
    assert model.steps.predict_batch._cache_size() == 1  # 3 batches again: no recompilation
    np.testing.assert_allclose(model.predict(x[:7]), scores[:7], rtol=1e-6, atol=1e-7)


def test_predict_label_sorts_classes_most_likely_first(known_model):
    model, forward = known_model
    x, _, _ = _data(50, 4, 3)

    labels = model.predict_label(x)

    expected = forward(x)
    assert labels.shape == (50, 3)
    np.testing.assert_array_equal(labels[:, 0], expected.argmax(axis=1))
    np.testing.assert_array_equal(labels[:, -1], expected.argmin(axis=1))
    ranked = np.take_along_axis(expected, labels, axis=1)
    assert np.all(np.diff(ranked, axis=1) <= 0)


def test_evaluate_returns_the_metric_over_every_sample(known_model):
    model, forward = known_model
    x, labels, y = _data(301, 4, 3)

    result = model.evaluate(x, y, batch_size=64)

    assert isinstance(result, list) and len(result) == 1
    expected = np.mean(forward(x).argmax(axis=1) == labels)
    assert result[0] == pytest.approx(expected, abs=1e-6)


def test_evaluate_without_a_metric_returns_the_mean_loss():
    x, labels, y = _data(50, 4, 3)
    net = input_data(shape=[None, 4])
    out = fully_connected(net, 3, activation="softmax")
    model = stackit.DNN(regression(out, metric=None), seed=0)
    probs = _softmax(x @ model.get_weights(out.W).astype(np.float64) + model.get_weights(out.b))

    result = model.evaluate(x, y)

    expected = np.mean(-np.log(probs[np.arange(50), labels]))
    assert result == pytest.approx([expected], rel=1e-5)


# ------------------------------------------------------------------------------ summary


def test_summary_prints_layers_and_parameter_counts():
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 8, activation="relu")  # 4 * 8 + 8 = 40
    net = fully_connected(net, 3, activation="softmax", trainable=False)  # 8 * 3 + 3 = 27
    model = stackit.DNN(regression(net), seed=0)
    console = Console(record=True, width=120)

    model.summary(console=console)

    text = console.export_text()
    for expected in ("InputData", "FullyConnected", "FullyConnected_1", "Regression",
                     "(None, 8)", "(None, 3)", " 40 ", " 27 ", " 67 "):
        assert expected in text, expected
    assert "Trainable params: 40" in text
    assert "Non-trainable params: 27" in text


def test_summary_of_an_unbuilt_keras_model_asks_for_the_input_shape():
    model = stackit.Sequential([stackit.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"build\(input_shape\)"):
        model.summary(console=Console(record=True))
    model.build((5,))
    console = Console(record=True, width=120)
    model.summary(console=console)
    assert " 18 " in console.export_text()  # 5 * 3 + 3


def test_fit_batch_takes_one_step_like_fit_over_one_full_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 24)]

    def build():
        stackit.layers.reset_default_graph()
        net = stackit.input_data(shape=[None, 5])
        net = stackit.fully_connected(net, 6, activation="relu")
        frozen = stackit.fully_connected(net, 4, trainable=False)
        net = stackit.fully_connected(frozen, 3, activation="softmax")
        return stackit.DNN(stackit.regression(net, optimizer=stackit.SGD(0.5)), seed=2)

    stepped, fitted = build(), build()
    loss = stepped.fit_batch(x, y)
    history = fitted.fit(x, y, n_epoch=1, batch_size=24, shuffle=False, verbose=0)

    assert loss == pytest.approx(history.history["loss"][0], rel=1e-6)
    for name in ("FullyConnected/W", "FullyConnected_1/W", "FullyConnected_2/b"):
        np.testing.assert_allclose(stepped.get_weights(name), fitted.get_weights(name),
                                   rtol=1e-6)
    assert int(stepped.train_state.step) == 1 and stepped.epoch == 0
    assert stepped.get_train_vars() == [stackit.layers.ParamRef(layer, param)
                                        for layer in ("FullyConnected", "FullyConnected_2")
                                        for param in ("W", "b")]
    huge = np.finfo(np.float32).max  # finite (set_weights refuses inf); the outputs overflow
    stepped.set_weights("FullyConnected/W", np.full((5, 6), huge, np.float32))
    stepped.set_weights("FullyConnected_1/W", np.full((6, 4), huge, np.float32))
    with pytest.raises(stackit.NonFiniteLossError, match="step 2"):
        stepped.fit_batch(x, y)
    assert int(stepped.train_state.step) == 1  # the non-finite step was skipped
