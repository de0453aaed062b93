"""The rest of tflearn's core layers against numpy: highway, one-hot, time-distributed, custom
layers, leaky/parametric ReLU, layer and L2 normalization, activations applied to tensors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit import activations
from stackit.layers import core, normalization, regression
from stackit.layers.core import (
    CustomLayer,
    Dense,
    Highway,
    LeakyReLU,
    OneHotEncoding,
    PReLU,
    TimeDistributed,
    custom_layer,
    fully_connected,
    highway,
    input_data,
    one_hot_encoding,
    time_distributed,
)
from stackit.layers.normalization import L2Normalize, LayerNormalization, l2_normalize
from stackit.network import Network
from stackit.utils import repeat

RNG = np.random.default_rng(0)


def _apply(layer, x, *, training=False, key=None, params=None, shape=None):
    """(y, params) of `layer` on `x` (params drawn by init unless given), under jit."""
    in_shape = shape if shape is not None else tuple(np.shape(x)[1:])
    p, s, out_shape = layer.init(jax.random.PRNGKey(3), in_shape)
    params = p if params is None else params
    apply = jax.jit(layer.apply, static_argnames="training")
    y, _ = apply(params, s, jnp.asarray(x), training=training, key=key)
    assert y.shape == (len(x) if not isinstance(x, list) else len(x[0]), *out_shape)
    return np.asarray(y), params


# -- highway --------------------------------------------------------------------------------------

def test_highway_mixes_transform_and_input_through_its_gate():
    x = RNG.normal(size=(4, 6)).astype(np.float32)
    layer = Highway(6, activation="tanh")
    y, p = _apply(layer, x)
    p = {k: np.asarray(v) for k, v in p.items()}
    h = np.tanh(x @ p["W"] + p["b"])
    t = 1 / (1 + np.exp(-(x @ p["W_T"] + p["b_T"])))
    np.testing.assert_allclose(y, h * t + x * (1 - t), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p["b_T"], -1.0)   # starts near carrying the input


def test_highway_flattens_and_refuses_a_size_it_cannot_carry():
    net = input_data([None, 2, 3])
    assert highway(net, 6).get_shape().as_list() == [None, 6]
    with pytest.raises(ValueError, match="n_units=4"):
        highway(net, 4)
    with pytest.raises(ValueError, match="keep probability"):
        highway(net, 6, transform_dropout=1.5)


def test_highway_transform_dropout_only_in_training():
    x = RNG.normal(size=(8, 5)).astype(np.float32)
    layer = Highway(5, transform_dropout=0.5)
    y_eval, p = _apply(layer, x)
    y_train, _ = _apply(layer, x, training=True, key=jax.random.PRNGKey(1), params=p)
    y_eval2, _ = _apply(layer, x, params=p)
    np.testing.assert_array_equal(y_eval, y_eval2)
    assert not np.allclose(y_train, y_eval)


def test_highway_softmax_output_is_not_treated_as_logits():
    """The output mixes the activation with the input: the loss must not strip the softmax."""
    out = highway(input_data([None, 3]), 3, activation="softmax")
    dense = fully_connected(input_data([None, 3]), 3, activation="softmax")
    assert not Network([out]).want_logits(out, "softmax")
    assert Network([dense]).want_logits(dense, "softmax")


# -- one-hot --------------------------------------------------------------------------------------

def test_one_hot_encoding_with_on_and_off_values():
    ids = np.array([[0, 2], [1, 5]], np.float32)     # 5 is out of range: all off
    y, _ = _apply(OneHotEncoding(3, on_value=2.0, off_value=-1.0), ids)
    expected = np.full((2, 2, 3), -1.0)
    expected[0, 0, 0] = expected[0, 1, 2] = expected[1, 0, 1] = 2.0
    np.testing.assert_array_equal(y, expected)
    assert one_hot_encoding(input_data([None]), 4).get_shape().as_list() == [None, 4]
    with pytest.raises(ValueError, match="n_classes"):
        OneHotEncoding(0)


# -- time distributed -----------------------------------------------------------------------------

def test_time_distributed_applies_one_dense_to_every_step():
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    layer = TimeDistributed(Dense(2, activation="relu"))
    y, p = _apply(layer, x)
    w, b = np.asarray(p["W"]), np.asarray(p["b"])
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_time_distributed_function_wraps_the_one_layer_fn_adds():
    net = input_data([None, 4, 5])
    out = time_distributed(net, fully_connected, [7])
    assert out.get_shape().as_list() == [None, 4, 7]
    assert isinstance(out.layer, TimeDistributed) and isinstance(out.layer.layer, Dense)
    assert out.param_shapes == {"W": (5, 7), "b": (7,)}

    def two_layers(step, n):
        return fully_connected(fully_connected(step, n), n)

    with pytest.raises(ValueError, match="exactly one layer"):
        time_distributed(net, two_layers, [3])
    with pytest.raises(ValueError, match="3-D"):
        time_distributed(input_data([None, 4]), fully_connected, [3])


def test_time_distributed_refuses_a_non_layer():
    with pytest.raises(TypeError, match="expected a layer"):
        TimeDistributed("dense")


# -- custom layers --------------------------------------------------------------------------------

def test_custom_layer_runs_the_function_with_its_arguments():
    net = input_data([None, 3])
    out = custom_layer(net, lambda x, k: jnp.concatenate([x, k * x], axis=-1), k=2.0,
                       name="Doubler")
    assert out.name == "Doubler" and out.get_shape().as_list() == [None, 6]
    x = RNG.normal(size=(2, 3)).astype(np.float32)
    y, _ = _apply(out.layer, x)
    np.testing.assert_allclose(y, np.concatenate([x, 2 * x], -1), rtol=1e-6)


def test_custom_layer_on_a_list_of_tensors():
    a, b = input_data([None, 3]), input_data([None, 3])
    out = custom_layer([a, b], lambda xs: xs[0] * xs[1])
    xa, xb = RNG.normal(size=(2, 2, 3)).astype(np.float32)
    y, _ = _apply(out.layer, [jnp.asarray(xa), jnp.asarray(xb)], shape=[(3,), (3,)])
    np.testing.assert_allclose(y, xa * xb, rtol=1e-6)


def test_custom_layer_errors_say_what_the_function_did_wrong():
    net = input_data([None, 3])
    with pytest.raises(ValueError, match="batch axis first"):
        custom_layer(net, lambda x: jnp.sum(x))
    with pytest.raises(ValueError, match="custom_fn failed.*TypeError"):
        custom_layer(net, lambda x: x @ "no")
    with pytest.raises(TypeError, match="callable"):
        CustomLayer(function=3)


# -- leaky / parametric ReLU ----------------------------------------------------------------------

def test_leaky_relu_layer_and_activation_on_a_tensor():
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    y, _ = _apply(LeakyReLU(0.2), x)
    np.testing.assert_allclose(y, np.where(x >= 0, x, 0.2 * x), rtol=1e-6)
    t = activations.leaky_relu(input_data([None, 3]))
    assert isinstance(t.layer, LeakyReLU) and t.layer.alpha == 0.1   # tflearn's default slope
    assert LeakyReLU().alpha == 0.3                                   # Keras's default slope


def test_prelu_learns_one_slope_per_channel():
    x = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    alphas = jnp.asarray([0.1, -0.5, 2.0])
    y, _ = _apply(PReLU(), x, params={"alphas": alphas})
    np.testing.assert_allclose(y, np.where(x > 0, x, np.asarray(alphas) * x), rtol=1e-6)
    shared, p = _apply(PReLU(channel_shared=True), x)
    assert p["alphas"].shape == (1,) and np.allclose(shared, np.maximum(x, 0))  # zeros init
    with pytest.raises(TypeError, match="learned slopes"):
        activations.prelu(jnp.ones(3))


def test_prelu_slopes_train():
    net = input_data([None, 2])
    act = activations.prelu(net)
    out = fully_connected(act, 1, name="out")
    model = stackit.DNN(regression(out, loss="mean_square", learning_rate=0.05))
    x = -np.abs(RNG.normal(size=(64, 2))).astype(np.float32)     # negative: only slopes pass
    model.fit(x, x.sum(1, keepdims=True), n_epoch=2, batch_size=16, show_metric=False)
    assert np.abs(model.get_weights(act.alphas)).max() > 0


# -- layer and L2 normalization --------------------------------------------------------------------

def test_layer_normalization_matches_numpy():
    x = RNG.normal(2.0, 3.0, size=(4, 3, 5)).astype(np.float32)
    gamma, beta = RNG.normal(size=5).astype(np.float32), RNG.normal(size=5).astype(np.float32)
    y, _ = _apply(LayerNormalization(epsilon=1e-3), x,
                  params={"gamma": jnp.asarray(gamma), "beta": jnp.asarray(beta)})
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta,
                               rtol=1e-4, atol=1e-5)
    params, _, _ = LayerNormalization(center=False).init(jax.random.PRNGKey(0), (5,))
    assert set(params) == {"gamma"}


@pytest.mark.parametrize("dim", [1, 2, -1])
def test_l2_normalize_matches_numpy(dim):
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    x[0, 0] = 0.0          # a zero slice stays zero (the epsilon bound)
    y, _ = _apply(L2Normalize(axis=dim), x)
    norm = np.sqrt(np.maximum((x * x).sum(dim, keepdims=True), 1e-12))
    np.testing.assert_allclose(y, x / norm, rtol=1e-5, atol=1e-6)


def test_l2_normalize_refuses_the_batch_axis_and_axes_beyond_the_rank():
    net = input_data([None, 4])
    with pytest.raises(ValueError, match="batch axis"):
        l2_normalize(net, dim=0)
    with pytest.raises(ValueError, match="not a sample axis"):
        l2_normalize(net, dim=2)


# -- activations on tensors, repeat ----------------------------------------------------------------

def test_activation_functions_build_layers_on_tensors_and_compute_on_arrays():
    net = input_data([None, 4])
    t = activations.relu(net)
    assert isinstance(t.layer, core.Activation) and t.layer.activation == "relu"
    np.testing.assert_array_equal(activations.relu(jnp.asarray([-1.0, 2.0])), [0.0, 2.0])
    assert activations.get("relu") is activations.relu


def test_inception_style_scaled_residual_with_relu_on_tensors_trains():
    """`net += scale * relu(batch_normalization(...))`, as tflearn's inception_resnet_v2."""
    def block(net, scale):
        tower = activations.relu(normalization.batch_normalization(fully_connected(net, 4)))
        net += scale * tower
        return activations.relu(net)

    net = repeat(input_data([None, 4]), 3, block, scale=0.2)
    model = stackit.DNN(regression(fully_connected(net, 2, activation="softmax")))
    x = RNG.normal(size=(32, 4)).astype(np.float32)
    y = np.eye(2)[(x[:, 0] > 0).astype(int)]
    model.fit(x, y, n_epoch=2, batch_size=16, show_metric=False)
    assert np.isfinite(model.predict(x)).all()
    assert sum(isinstance(layer, core.Activation) for layer in model.net.layers) == 6


def test_repeat_refuses_a_negative_count():
    assert repeat(5, 0, lambda x: x + 1) == 5 and repeat(5, 3, lambda x, k: x + k, 2) == 11
    with pytest.raises(ValueError, match="repetitions"):
        repeat(5, -1, lambda x: x)
