"""Core layers against numpy: input, dense, dropout, activation, flatten, reshape, single unit."""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit.layers import conv_2d, core, regression
from stackit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    InputData,
    Reshape,
    SingleUnit,
    dropout,
    flatten,
    fully_connected,
    input_data,
    reshape,
    single_unit,
)

RNG = np.random.default_rng(0)


def _defaults(fn):
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


def truncated_std_factor(limit: float = 2.0) -> float:
    """Std of a standard normal truncated to [-limit, limit]."""
    pdf = math.exp(-limit * limit / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(limit / math.sqrt(2))
    return math.sqrt(1 - 2 * limit * pdf / mass)


def _shapes(layer, in_shape):
    """(param shapes, state shapes, output shape) of `layer.init`, traced without compiling."""
    found = {}

    def trace(key):
        params, state, out_shape = layer.init(key, in_shape)
        found["out"] = tuple(out_shape)
        return params, state

    params, state = jax.eval_shape(trace, jax.random.PRNGKey(0))
    return params, state, found["out"]


def _run(layer, x, *, training=False, key=None, params=None):
    """Applies `layer` (jit) to `x` with random normal params unless given; checks the shape."""
    p_shapes, s_shapes, out_shape = _shapes(layer, tuple(np.shape(x)[1:]))
    rng = np.random.default_rng(len(p_shapes))
    if params is None:
        params = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape), a.dtype), p_shapes)
    state = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), s_shapes)
    apply = jax.jit(layer.apply, static_argnames="training")
    y, _ = apply(params, state, jnp.asarray(x), training=training, key=key)
    assert y.shape == (np.shape(x)[0], *out_shape)
    return np.asarray(y), params


# -- input_data ---------------------------------------------------------------------------------

def test_input_data_declares_the_per_sample_shape_and_casts_to_float32():
    net = input_data(shape=[None, 28, 28, 1])
    assert net.get_shape().as_list() == [None, 28, 28, 1]
    layer = net.layer
    assert isinstance(layer, InputData) and layer.shape == (28, 28, 1)
    x = RNG.integers(0, 255, size=(2, 28, 28, 1)).astype(np.uint8)
    y, _ = layer.apply({}, {}, jnp.asarray(x), training=False, key=None)
    assert y.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(y), x.astype(np.float32))


@pytest.mark.parametrize("kwargs, match", [
    ({}, "shape.*required"),
    ({"shape": []}, "shape.*required"),
    ({"shape": [None, 0, 3]}, "positive int"),
    ({"shape": [None, 3], "placeholder": "x"}, "placeholder"),
    ({"shape": [None, 3], "dtype": "complex64"}, "dtype"),
    ({"shape": [None, 3], "dtype": "str"}, "dtype"),
])
def test_input_data_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        input_data(**kwargs)


# -- fully_connected / Dense ---------------------------------------------------------------------

def test_integer_input_takes_whole_floats_and_refuses_fractions():
    net = input_data([None, 3], dtype="int32")
    out = fully_connected(net, 2, name="ids_out")
    model = stackit.DNN(regression(out))
    ids = np.array([[0, 1, 2], [3, 4, 5]], np.float32)
    w = model.get_weights(out.W)
    np.testing.assert_allclose(model.predict(ids), ids @ w, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="whole numbers"):
        model.predict(ids + 0.5)


def test_fully_connected_keeps_tflearns_defaults():
    d = _defaults(fully_connected)
    assert d["activation"] == "linear" and d["bias"] is True
    assert d["weights_init"] == "truncated_normal" and d["bias_init"] == "zeros"
    assert d["regularizer"] is None and d["weight_decay"] == 0.001
    assert d["trainable"] is True and d["restore"] is True
    assert list(inspect.signature(fully_connected).parameters)[:2] == ["incoming", "n_units"]


def test_dense_flattens_nd_input_then_applies_w_b_and_activation():
    x = RNG.normal(size=(3, 2, 3, 2)).astype(np.float32)
    y, params = _run(Dense(4, activation="relu"), x)
    w, b = np.asarray(params["W"]), np.asarray(params["b"])
    assert w.shape == (12, 4) and b.shape == (4,)
    np.testing.assert_allclose(y, np.maximum(x.reshape(3, 12) @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_dense_bias_and_no_bias():
    x = RNG.normal(size=(5, 3)).astype(np.float32)
    y, params = _run(Dense(2, activation="tanh"), x)
    w, b = np.asarray(params["W"]), np.asarray(params["b"])
    np.testing.assert_allclose(y, np.tanh(x @ w + b), rtol=1e-5, atol=1e-6)
    layer = Dense(2, bias=False)
    assert set(_shapes(layer, (3,))[0]) == {"W"}
    y, params = _run(layer, x)
    np.testing.assert_allclose(y, x @ np.asarray(params["W"]), rtol=1e-5, atol=1e-6)


def test_dense_weights_are_truncated_normal_with_stddev_002():
    params, _, _ = Dense(300).init(jax.random.PRNGKey(3), (200,))
    w = np.asarray(params["W"])
    # A normal(0, 0.02) truncated at 2 std: no value beyond 0.04, std 0.02 * 0.88.
    assert np.abs(w).max() <= 0.04 + 1e-7
    assert abs(w.std() - 0.02 * truncated_std_factor()) < 0.02 * 0.02
    assert abs(w.mean()) < 1e-3
    np.testing.assert_array_equal(np.asarray(params["b"]), np.zeros(300))


def test_dense_crelu_doubles_the_units_in_the_declared_shape():
    net = fully_connected(input_data(shape=[None, 5]), 3, activation="crelu")
    assert net.get_shape().as_list() == [None, 6]
    x = RNG.normal(size=(2, 5)).astype(np.float32)
    y, params = _run(net.layer, x)
    z = x @ np.asarray(params["W"]) + np.asarray(params["b"])
    np.testing.assert_allclose(y, np.concatenate([np.maximum(z, 0), np.maximum(-z, 0)], -1),
                               rtol=1e-5, atol=1e-6)


def test_dense_l2_penalty_is_weight_decay_times_half_sum_of_squares():
    layer = Dense(3, regularizer="L2", weight_decay=0.01)
    w = RNG.normal(size=(4, 3))
    params = {"W": jnp.asarray(w, jnp.float32), "b": jnp.ones(3)}
    np.testing.assert_allclose(float(layer.penalty(params)), 0.01 * np.sum(w**2) / 2, rtol=1e-5)
    assert Dense(3).penalty(params) == 0.0


@pytest.mark.parametrize("kwargs, match", [
    ({"units": -1}, r"n_units must be a positive int.*n_units=-1"),
    ({"units": 0}, "n_units"),
    ({"units": 2.5}, "n_units"),
    ({"units": 3, "activation": "relux"}, r"Unknown activation 'relux'.*relu.*tanh"),
    ({"units": 3, "weights_init": "gaussian"}, r"Unknown initializer.*truncated_normal"),
    ({"units": 3, "regularizer": "L3"}, r"Unknown regularizer.*l1.*l2"),
    ({"units": 3, "regularizer": "L2", "weight_decay": -0.1},
     r"weight_decay must be >= 0 \(0 disables the penalty\)\. Received: weight_decay=-0\.1"),
])
def test_dense_refuses_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Dense(**kwargs)


def test_weight_decay_must_be_a_number():
    with pytest.raises(TypeError, match=r"weight_decay must be a number.*weight_decay='0\.1'"):
        fully_connected(input_data(shape=[None, 4]), 3, weight_decay="0.1")


def test_a_parameter_too_large_to_allocate_is_refused_when_the_layer_is_called():
    net = input_data(shape=[None, 4])
    with pytest.raises(ValueError, match=r"fully_connected 'FullyConnected.*': parameter W of "
                                         r"shape \(4, 1000000000000\) would hold "
                                         r"4,000,000,000,000 values, more than the "
                                         r"2,147,483,647 a parameter may hold"):
        fully_connected(net, 10**12)
    with pytest.raises(ValueError, match=r"conv_2d .*parameter W of shape \(3, 3, 3, 300000000\)"):
        conv_2d(input_data(shape=[None, 8, 8, 3]), 3 * 10**8, 3)
    assert fully_connected(net, 2**20).param_shapes["W"] == (4, 2**20)  # large, but fine


def test_dense_accepts_numpy_integer_units():
    layer = Dense(np.int64(3))
    assert layer.units == 3 and type(layer.units) is int


def test_dense_on_a_scalar_input_names_the_layer_and_shape():
    with pytest.raises(ValueError, match=r"fully_connected 'Dense_x'.*\(None,\)"):
        Dense(3, name="Dense_x").init(jax.random.PRNGKey(0), ())


# -- dropout --------------------------------------------------------------------------------------

def test_dropout_takes_keep_prob_and_is_identity_when_not_training():
    assert list(inspect.signature(dropout).parameters)[:2] == ["incoming", "keep_prob"]
    net = dropout(input_data(shape=[None, 10]), 0.8)
    assert net.layer.rate == pytest.approx(0.2)
    x = RNG.normal(size=(4, 10)).astype(np.float32)
    y, _ = _run(net.layer, x, training=False, key=jax.random.PRNGKey(0))
    np.testing.assert_array_equal(y, x)


def test_dropout_in_training_keeps_about_keep_prob_and_rescales():
    keep = 0.7
    x = RNG.uniform(1.0, 2.0, size=(100, 1000)).astype(np.float32)
    y, _ = _run(Dropout(1 - keep), x, training=True, key=jax.random.PRNGKey(5))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / keep, rtol=1e-6)
    # 100k Bernoulli(0.7) draws: the kept fraction is within ~6 standard errors (0.0014 each).
    assert abs(kept.mean() - keep) < 0.01
    # Rescaling keeps the expected value.
    assert abs(y.mean() / x.mean() - 1) < 0.02


def test_dropout_masks_depend_on_the_key():
    x = np.ones((4, 64), np.float32)
    layer = Dropout(0.5)
    y1, _ = _run(layer, x, training=True, key=jax.random.PRNGKey(1))
    y2, _ = _run(layer, x, training=True, key=jax.random.PRNGKey(2))
    y1b, _ = _run(layer, x, training=True, key=jax.random.PRNGKey(1))
    assert not np.array_equal(y1, y2)
    np.testing.assert_array_equal(y1, y1b)


def test_dropout_keep_prob_one_is_identity_in_training():
    layer = dropout(input_data(shape=[None, 5]), 1.0).layer
    x = RNG.normal(size=(3, 5)).astype(np.float32)
    y, _ = _run(layer, x, training=True, key=jax.random.PRNGKey(0))
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("keep_prob", [0.0, -0.5, 1.5, "0.5"])
def test_dropout_refuses_bad_keep_prob(keep_prob):
    with pytest.raises(ValueError, match="keep_prob"):
        dropout(input_data(shape=[None, 5]), keep_prob)


def test_dropout_training_without_a_key_is_a_clear_error():
    with pytest.raises(ValueError, match="key"):
        Dropout(0.5).apply({}, {}, jnp.ones((2, 3)), training=True, key=None)


# -- activation, flatten, reshape ---------------------------------------------------------------

def test_activation_layer_matches_numpy():
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    y, _ = _run(Activation("sigmoid"), x)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-5)
    y, _ = _run(Activation("crelu"), x)
    np.testing.assert_allclose(y, np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1))
    y, _ = _run(Activation(lambda v: 2 * v), x)
    np.testing.assert_allclose(y, 2 * x)


def test_flatten_matches_numpy_reshape():
    net = flatten(input_data(shape=[None, 2, 3, 4]))
    assert net.get_shape().as_list() == [None, 24]
    x = RNG.normal(size=(2, 2, 3, 4)).astype(np.float32)
    y, _ = _run(Flatten(), x)
    np.testing.assert_array_equal(y, x.reshape(2, 24))


def test_reshape_takes_the_batch_axis_first_and_allows_one_minus_one():
    net = reshape(input_data(shape=[None, 784]), [-1, 28, 28, 1])
    assert net.get_shape().as_list() == [None, 28, 28, 1]
    x = RNG.normal(size=(2, 12)).astype(np.float32)
    y, _ = _run(Reshape((3, -1)), x)
    np.testing.assert_array_equal(y, x.reshape(2, 3, 4))


@pytest.mark.parametrize("target", [(5, 5), (5, -1), (-1, -1), (0, 12), (-2, -6)])
def test_reshape_refuses_a_shape_that_does_not_fit(target):
    with pytest.raises(ValueError, match=r"reshape 'R'.*new_shape"):
        Reshape(target, name="R").init(jax.random.PRNGKey(0), (12,))


# -- single_unit ----------------------------------------------------------------------------------

def test_single_unit_is_w_times_x_plus_b_on_scalar_samples():
    net = single_unit(input_data(shape=[None]))
    assert net.get_shape().as_list() == [None]
    x = RNG.normal(size=(6,)).astype(np.float32)
    p_shapes, _, _ = _shapes(net.layer, ())
    assert p_shapes["W"].shape == p_shapes["b"].shape == (1,)
    y, _ = _run(net.layer, x, params={"W": jnp.array([2.5]), "b": jnp.array([-0.5])})
    np.testing.assert_allclose(y, 2.5 * x - 0.5, rtol=1e-6)


def test_single_unit_has_one_weight_per_feature():
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    y, params = _run(SingleUnit(activation="relu"), x)
    w, b = np.asarray(params["W"]), np.asarray(params["b"])
    assert w.shape == b.shape == (3,)
    np.testing.assert_allclose(y, np.maximum(x * w + b, 0), rtol=1e-6)
    y, params = _run(SingleUnit(bias=False), x)
    assert set(params) == {"W"}
    np.testing.assert_allclose(y, x * np.asarray(params["W"]), rtol=1e-6)


def test_core_module_lists_its_layers():
    for name in core.__all__:
        assert getattr(core, name).__doc__
