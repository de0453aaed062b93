"""Weight penalties: TensorFlow's l2_loss convention (half the sum of squares), L1 and L1L2."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit import regularizers
from stackit.layers import Conv2D, fully_connected, input_data, regression
from stackit.layers.base import layer_from_config

W = np.random.default_rng(0).normal(size=(3, 4))


def test_l2_is_weight_decay_times_half_the_sum_of_squares():
    assert float(regularizers.L2(jnp.asarray(W), 0.01)) == pytest.approx(
        0.01 * np.sum(W**2) / 2, rel=1e-5)
    assert float(regularizers.L2(jnp.asarray(W))) == pytest.approx(0.001 * np.sum(W**2) / 2,
                                                                   rel=1e-5)


def test_l1_is_weight_decay_times_the_sum_of_absolute_values():
    assert float(regularizers.L1(jnp.asarray(W), 0.5)) == pytest.approx(
        0.5 * np.abs(W).sum(), rel=1e-5)


def test_get_is_case_insensitive_and_lists_valid_names():
    assert regularizers.get("L2") is regularizers.L2
    assert regularizers.get("l1") is regularizers.L1
    with pytest.raises(ValueError, match=r"Unknown regularizer 'L3'.*l1, l1l2, l2"):
        regularizers.get("L3")

    def penalty(w, wd):
        return wd * jnp.max(jnp.abs(w))

    assert regularizers.get(penalty) is penalty


def test_a_layer_adds_its_penalty_on_w_only():
    layer = Conv2D(2, 2, regularizer="L1", weight_decay=0.1)
    w = np.random.default_rng(1).normal(size=(2, 2, 3, 2))
    params = {"W": jnp.asarray(w), "b": jnp.full((2,), 100.0)}
    assert float(layer.penalty(params)) == pytest.approx(0.1 * np.abs(w).sum(), rel=1e-5)


def test_l1l2_sums_both_penalties_with_separate_factors():
    w = jnp.asarray(W)
    penalty = regularizers.L1L2(l1=0.01, l2=0.2)
    assert float(penalty(w, 123.0)) == pytest.approx(
        0.01 * np.abs(W).sum() + 0.2 * np.sum(W**2) / 2, rel=1e-5)  # wd unused: both given
    # a factor left None is the layer's weight_decay; by name, both are
    assert float(regularizers.L1L2(l1=0.01)(w, 0.3)) == pytest.approx(
        0.01 * np.abs(W).sum() + 0.3 * np.sum(W**2) / 2, rel=1e-5)
    assert float(regularizers.get("L1L2")(w, 0.3)) == pytest.approx(
        0.3 * np.abs(W).sum() + 0.3 * np.sum(W**2) / 2, rel=1e-5)
    # L1L2(l1=0, l2=wd) is 'L2' with weight_decay=wd
    assert float(regularizers.L1L2(l1=0, l2=0.05)(w)) == pytest.approx(
        float(regularizers.L2(w, 0.05)), rel=1e-6)


@pytest.mark.parametrize("bad, error", [({"l1": -0.1}, ValueError), ({"l2": float("inf")},
                                         ValueError), ({"l1": "0.1"}, TypeError)])
def test_l1l2_refuses_bad_factors(bad, error):
    with pytest.raises(error, match=f"L1L2: {next(iter(bad))} must be"):
        regularizers.L1L2(**bad)


def test_a_layer_takes_l1l2_by_name_or_object_and_its_config_round_trips():
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 3])
    by_name = fully_connected(net, 4, regularizer="L1L2", weight_decay=0.1)
    by_object = fully_connected(by_name, 2, regularizer=regularizers.L1L2(l1=0.02, l2=0.5))
    w1 = np.random.default_rng(2).normal(size=(3, 4))
    w2 = np.random.default_rng(3).normal(size=(4, 2))
    assert float(by_name.layer.penalty({"W": jnp.asarray(w1), "b": jnp.zeros(4)})) == \
        pytest.approx(0.1 * np.abs(w1).sum() + 0.1 * np.sum(w1**2) / 2, rel=1e-5)
    assert float(by_object.layer.penalty({"W": jnp.asarray(w2), "b": jnp.zeros(2)})) == \
        pytest.approx(0.02 * np.abs(w2).sum() + 0.5 * np.sum(w2**2) / 2, rel=1e-5)
    config = by_object.layer.get_config()
    assert config["regularizer"] == {"type": "L1L2", "l1": 0.02, "l2": 0.5}
    rebuilt = layer_from_config({**config, "name": "Rebuilt"})
    assert rebuilt.regularizer == regularizers.L1L2(l1=0.02, l2=0.5)


def test_the_model_trains_on_l1_and_l1l2_penalties():
    """One SGD step on a linear model: the gradient is the data loss's plus every penalty's."""
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 3])
    hidden = fully_connected(net, 4, regularizer="L1", weight_decay=0.03, bias=False)
    out = fully_connected(hidden, 1, regularizer=regularizers.L1L2(l1=0.02, l2=0.4),
                          bias=False)
    model = stackit.DNN(regression(out, optimizer="sgd", loss="mean_square", metric=None,
                                   learning_rate=0.1), seed=0)
    x = np.random.default_rng(4).normal(size=(8, 3))
    y = np.random.default_rng(5).normal(size=(8, 1))
    w1, w2 = model.get_weights(hidden.W), model.get_weights(out.W)
    h = x @ w1
    d_pred = 2 * (h @ w2 - y) / len(x)
    g2 = h.T @ d_pred + 0.02 * np.sign(w2) + 0.4 * w2
    g1 = x.T @ (d_pred @ w2.T) + 0.03 * np.sign(w1)
    model.fit_batch(x.astype(np.float32), y.astype(np.float32))
    np.testing.assert_allclose(model.get_weights(out.W), w2 - 0.1 * g2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.get_weights(hidden.W), w1 - 0.1 * g1, rtol=1e-4, atol=1e-6)
