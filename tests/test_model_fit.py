"""Tests that `DNN.fit` learns: real data, a least-squares line, seeds, and a conv net."""

import jax
import numpy as np
import pytest
from helpers import classification_data, mlp

import stackit
from stackit.data_utils import to_categorical
from stackit.layers import (
    batch_normalization,
    conv_2d,
    dropout,
    fully_connected,
    input_data,
    local_response_normalization,
    max_pool_2d,
    regression,
    single_unit,
)


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    stackit.init_graph(seed=None)
    yield
    stackit.init_graph(seed=None)


# ------------------------------------------------------------------------------ training works


def test_mlp_learns_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    x, labels = x[order], digits.target[order]
    y = to_categorical(labels, 10)
    _, _, reg = mlp(64, 64, 10, optimizer="adam", learning_rate=0.01, batch_size=64)
    model = stackit.DNN(reg, seed=0)

    model.fit(x[:1400], y[:1400], n_epoch=8, verbose=0)

    accuracy = model.evaluate(x[1400:], y[1400:])[0]
    assert accuracy > 0.9
    predicted = model.predict(x[1400:]).argmax(axis=1)
    assert np.mean(predicted == labels[1400:]) == pytest.approx(accuracy, abs=1e-6)


def test_linear_regression_recovers_the_least_squares_line():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 3.0, 200).astype(np.float32)
    y = (0.7 * x + 1.5 + rng.normal(0.0, 0.05, 200)).astype(np.float32)
    net = input_data(shape=[None])
    line = single_unit(net)
    reg = regression(line, optimizer="sgd", loss="mean_square", metric="R2", learning_rate=0.01,
                     batch_size=10)
    model = stackit.DNN(reg, seed=0)

    history = model.fit(x, y, n_epoch=60, show_metric=True, verbose=0)

    slope, intercept = np.polyfit(x.astype(np.float64), y.astype(np.float64), 1)
    assert model.get_weights(line.W)[0] == pytest.approx(slope, abs=1e-2)
    assert model.get_weights(line.b)[0] == pytest.approx(intercept, abs=1e-2)
    fitted = slope * x + intercept
    r2 = 1.0 - np.sum((y - fitted) ** 2) / np.sum((y - y.mean()) ** 2)
    assert history.history["R2"][-1] == pytest.approx(r2, abs=1e-2)
    np.testing.assert_allclose(model.predict(x), fitted, atol=3e-2)


# ------------------------------------------------------------------------------ seeds


def _dropout_model(seed):
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 6])
    hidden = fully_connected(net, 16, activation="relu")
    net = dropout(hidden, 0.5)
    out = fully_connected(net, 3, activation="softmax")
    reg = regression(out, optimizer="adam", learning_rate=0.01, batch_size=16)
    return stackit.DNN(reg, seed=seed), [hidden.W, hidden.b, out.W, out.b]


def test_same_seed_trains_identically_and_different_seed_differs():
    x, _, y = classification_data(80, 6, 3, seed=3)

    first, handles = _dropout_model(seed=3)
    h1 = first.fit(x, y, n_epoch=2, shuffle=True, show_metric=True, verbose=0)

    stackit.init_graph(seed=3)  # the process-wide default seed, same value
    second, _ = _dropout_model(seed=None)
    initial = [second.get_weights(h).copy() for h in handles]
    h2 = second.fit(x, y, n_epoch=2, shuffle=True, show_metric=True, verbose=0)
    assert h2.history == h1.history
    for handle in handles:
        np.testing.assert_array_equal(second.get_weights(handle), first.get_weights(handle))

    stackit.init_graph(seed=None)
    other, _ = _dropout_model(seed=4)
    assert not np.array_equal(other.get_weights(handles[0]), initial[0])
    # same initial weights, but the seed also drives dropout and shuffling
    for handle, weights in zip(handles, initial, strict=True):
        other.set_weights(handle, weights)
    h3 = other.fit(x, y, n_epoch=2, shuffle=True, show_metric=True, verbose=0)
    assert h3.history["loss"] != h1.history["loss"]
    assert not np.array_equal(other.get_weights(handles[0]), first.get_weights(handles[0]))


# ------------------------------------------------------------------------------ conv path


def test_conv_net_trains_and_batch_norm_uses_moving_statistics_in_predict():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8, 8, 1)).astype(np.float32)
    labels = (x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))).astype(int)
    y = to_categorical(labels, 2)
    net = input_data(shape=[None, 8, 8, 1])
    net = conv_2d(net, 4, 3, activation="relu")
    net = max_pool_2d(net, 2)
    net = local_response_normalization(net)
    bn = batch_normalization(net)
    net = fully_connected(bn, 2, activation="softmax")
    reg = regression(net, optimizer="adam", learning_rate=0.01, batch_size=16)
    model = stackit.DNN(reg, seed=0)
    initial_state = jax.tree.map(np.asarray, model.train_state.layer_state[bn.name])

    history = model.fit(x, y, n_epoch=3, shuffle=False, verbose=0)

    assert history.history["loss"][-1] < history.history["loss"][0]
    state = model.train_state.layer_state[bn.name]
    assert not np.allclose(state["moving_mean"], initial_state["moving_mean"])
    assert not np.allclose(state["moving_variance"], initial_state["moving_variance"])
    first, second = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(first, second)
    # moving statistics, not batch statistics: a sample's output does not depend on the
    # other samples of its batch
    other = x.copy()
    other[:24] = rng.normal(3.0, 2.0, size=(24, 8, 8, 1))
    np.testing.assert_allclose(model.predict(other)[24:], first[24:], rtol=1e-5, atol=1e-6)
    assert model.steps.train_chunk._cache_size() == 1  # one compilation for all 9 steps
