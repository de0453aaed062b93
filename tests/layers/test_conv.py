"""Convolution and pooling against explicit numpy loops with TensorFlow's padding rule."""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit.layers.conv import (
    AvgPool2D,
    Conv2D,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool2D,
    avg_pool_2d,
    conv_2d,
    global_avg_pool,
    global_max_pool,
    max_pool_2d,
)
from stackit.layers.core import input_data

RNG = np.random.default_rng(0)


def tf_pads(size: int, k: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, pad before, pad after) as TensorFlow computes them."""
    if padding == "valid":
        return (size - k) // stride + 1, 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def windows(x, k, stride, padding, fill):
    """Yields (i, j, window) over NHWC `x` padded with `fill`, plus a real-value mask."""
    (kh, kw), (sh, sw) = k, stride
    oh, top, bottom = tf_pads(x.shape[1], kh, sh, padding)
    ow, left, right = tf_pads(x.shape[2], kw, sw, padding)
    pad = ((0, 0), (top, bottom), (left, right), (0, 0))
    xp = np.pad(x, pad, constant_values=fill)
    real = np.pad(np.ones_like(x), pad, constant_values=0)
    for i in range(oh):
        for j in range(ow):
            sl = (slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            yield i, j, xp[sl], real[sl], (oh, ow)


def np_conv(x, w, b, stride, padding):
    out = None
    for i, j, win, _, (oh, ow) in windows(x, w.shape[:2], stride, padding, 0.0):
        if out is None:
            out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
        out[:, i, j] = np.einsum("nhwc,hwcf->nf", win, w) + b
    return out


def np_pool(x, k, stride, padding, kind):
    out = None
    fill = -np.inf if kind == "max" else 0.0
    for i, j, win, real, (oh, ow) in windows(x, k, stride, padding, fill):
        if out is None:
            out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
        if kind == "max":
            out[:, i, j] = win.max(axis=(1, 2))
        else:  # TensorFlow's 'same' average counts only the real (unpadded) values
            out[:, i, j] = win.sum(axis=(1, 2)) / real.sum(axis=(1, 2))
    return out


def _apply(layer, x, seed=0):
    """Applies `layer` (jit) to `x` with random normal params; checks the declared shape."""
    found = {}

    def trace(key):
        params, state, out_shape = layer.init(key, x.shape[1:])
        found["out"] = tuple(out_shape)
        return params, state

    p_shapes, _ = jax.eval_shape(trace, jax.random.PRNGKey(0))   # shapes, nothing compiled
    rng = np.random.default_rng(seed)
    params = {k: jnp.asarray(rng.normal(size=v.shape), v.dtype) for k, v in p_shapes.items()}
    y, _ = jax.jit(lambda p, v: layer.apply(p, {}, v, training=False, key=None))(
        params, jnp.asarray(x))
    assert y.shape == (x.shape[0], *found["out"])
    return np.asarray(y), params


# -- conv_2d --------------------------------------------------------------------------------------

@pytest.mark.parametrize("in_hw, kernel, strides, padding", [
    ((7, 6), 3, 1, "same"),
    ((7, 6), (2, 3), 2, "same"),   # even kernel: TensorFlow pads less before than after
    ((8, 8), 4, 3, "same"),
    ((7, 6), 3, 2, "valid"),
    ((6, 7), (1, 2), (2, 1), "valid"),
])
def test_conv_2d_matches_numpy(in_hw, kernel, strides, padding):
    x = RNG.normal(size=(2, *in_hw, 3)).astype(np.float32)
    layer = Conv2D(4, kernel, strides=strides, padding=padding)
    y, params = _apply(layer, x)
    s = strides if isinstance(strides, tuple) else (strides, strides)
    want = np_conv(x.astype(np.float64), np.asarray(params["W"], np.float64),
                   np.asarray(params["b"], np.float64), s, padding)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


def test_conv_2d_activation_and_tensorflow_style_strides():
    x = RNG.normal(size=(1, 5, 5, 2)).astype(np.float32)
    y, params = _apply(Conv2D(3, 3, strides=[1, 2, 2, 1], activation="relu", bias=False), x)
    assert "b" not in params
    want = np_conv(x, np.asarray(params["W"]), 0.0, (2, 2), "same")
    np.testing.assert_allclose(y, np.maximum(want, 0), rtol=1e-4, atol=1e-5)


def test_conv_2d_keeps_tflearns_defaults():
    params = inspect.signature(conv_2d).parameters
    assert list(params)[:3] == ["incoming", "nb_filter", "filter_size"]
    d = {k: p.default for k, p in params.items()}
    assert d["strides"] == 1 and d["padding"] == "same" and d["activation"] == "linear"
    assert d["weights_init"] == "uniform_scaling" and d["bias_init"] == "zeros"
    assert d["weight_decay"] == 0.001 and d["regularizer"] is None
    net = conv_2d(input_data(shape=[None, 227, 227, 3]), 96, 11, strides=4)
    assert net.get_shape().as_list() == [None, 57, 57, 96]   # ceil(227 / 4)


def test_conv_2d_weights_are_uniform_scaling():
    params, _, _ = Conv2D(64, 3).init(jax.random.PRNGKey(0), (8, 8, 16))
    w = np.asarray(params["W"])
    assert w.shape == (3, 3, 16, 64)
    limit = math.sqrt(3 / (3 * 3 * 16))   # fan = every dimension but the last
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.03 * limit
    np.testing.assert_array_equal(np.asarray(params["b"]), np.zeros(64))


def test_conv_2d_on_a_flat_input_names_the_layer_and_both_shapes():
    net = input_data(shape=[None, 784])
    with pytest.raises(ValueError) as err:
        conv_2d(net, 32, 3, name="Conv2D_x")
    message = str(err.value)
    assert "conv_2d 'Conv2D_x'" in message
    assert "4-D input (batch, height, width, channels)" in message
    assert "(None, 784)" in message


@pytest.mark.parametrize("kwargs, match", [
    ({"filters": -1, "kernel_size": 3}, "nb_filter"),
    ({"filters": 0, "kernel_size": 3}, "nb_filter"),
    ({"filters": 4, "kernel_size": 0}, "filter_size"),
    ({"filters": 4, "kernel_size": (3, 3, 3)}, "filter_size"),
    ({"filters": 4, "kernel_size": 3, "strides": -2}, "strides"),
    ({"filters": 4, "kernel_size": 3, "padding": "full"}, r"padding.*same.*valid"),
    ({"filters": 4, "kernel_size": 3, "padding": 1}, "padding"),
    ({"filters": 4, "kernel_size": 3, "activation": "rel"}, r"Unknown activation.*relu"),
])
def test_conv_2d_refuses_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


def test_conv_2d_valid_window_larger_than_the_input():
    with pytest.raises(ValueError, match=r"conv_2d.*does not fit.*\(None, 2, 2, 1\)"):
        Conv2D(1, 3, padding="valid").init(jax.random.PRNGKey(0), (2, 2, 1))


# -- pooling --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("in_hw, kernel, strides, padding", [
    ((5, 5), 2, None, "same"),       # tflearn: strides default to the kernel size
    ((7, 6), 3, 2, "same"),
    ((6, 7), (2, 3), (1, 2), "same"),
    ((7, 6), 3, 2, "valid"),
    ((6, 6), 2, None, "valid"),
])
def test_pooling_matches_numpy(kind, in_hw, kernel, strides, padding):
    x = RNG.normal(size=(2, *in_hw, 3)).astype(np.float32)
    layer = (MaxPool2D if kind == "max" else AvgPool2D)(kernel, strides, padding)
    y, _ = _apply(layer, x)
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = k if strides is None else (strides if isinstance(strides, tuple) else (strides,) * 2)
    np.testing.assert_allclose(y, np_pool(x, k, s, padding, kind), rtol=1e-5, atol=1e-6)


def test_pooling_functions_keep_tflearns_defaults():
    for fn in (max_pool_2d, avg_pool_2d):
        params = inspect.signature(fn).parameters
        assert list(params)[:2] == ["incoming", "kernel_size"]
        assert params["strides"].default is None and params["padding"].default == "same"
    net = input_data(shape=[None, 55, 55, 96])
    assert max_pool_2d(net, 3, strides=2).get_shape().as_list() == [None, 28, 28, 96]
    assert max_pool_2d(net, 5).get_shape().as_list() == [None, 11, 11, 96]
    assert avg_pool_2d(net, 2, padding="valid").get_shape().as_list() == [None, 27, 27, 96]


def test_global_pools_match_numpy():
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    net = input_data(shape=[None, 3, 4, 5])
    assert global_avg_pool(net).get_shape().as_list() == [None, 5]
    assert global_max_pool(net).get_shape().as_list() == [None, 5]
    np.testing.assert_allclose(_apply(GlobalAvgPool(), x)[0], x.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_array_equal(_apply(GlobalMaxPool(), x)[0], x.max(axis=(1, 2)))


@pytest.mark.parametrize("fn", [max_pool_2d, avg_pool_2d, global_avg_pool, global_max_pool])
def test_pools_on_a_flat_input_name_the_layer_and_shape(fn):
    args = (2,) if fn in (max_pool_2d, avg_pool_2d) else ()
    with pytest.raises(ValueError, match=r"4-D input.*\(None, 784\)"):
        fn(input_data(shape=[None, 784]), *args, name="P")


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel_size": 0}, "kernel_size"),
    ({"kernel_size": 2, "strides": (1, 0)}, "strides"),
    ({"kernel_size": 2, "padding": "SAME_LOWER"}, "padding"),
])
def test_pools_refuse_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaxPool2D(**kwargs)


def test_valid_pool_larger_than_the_input():
    with pytest.raises(ValueError, match="does not fit"):
        AvgPool2D(4, padding="valid").init(jax.random.PRNGKey(0), (3, 3, 1))
