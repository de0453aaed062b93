"""Batch normalization and local response normalization against numpy."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit.layers.core import input_data
from stackit.layers.normalization import (
    BatchNormalization,
    LocalResponseNormalization,
    batch_normalization,
    local_response_normalization,
)

RNG = np.random.default_rng(0)


def _defaults(fn):
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


# -- batch normalization --------------------------------------------------------------------------

def np_batch_norm_train(x, gamma, beta, mean, var, decay, eps):
    axes = tuple(range(x.ndim - 1))
    bm, bv = x.mean(axis=axes), x.var(axis=axes)
    y = (x - bm) / np.sqrt(bv + eps) * gamma + beta
    return y, decay * mean + (1 - decay) * bm, decay * var + (1 - decay) * bv


def test_batch_normalization_keeps_tflearns_defaults():
    d = _defaults(batch_normalization)
    assert d == {**d, "beta": 0.0, "gamma": 1.0, "epsilon": 1e-5, "decay": 0.9,
                 "stddev": 0.002, "trainable": True, "restore": True}
    layer = batch_normalization(input_data(shape=[None, 4])).layer
    assert (layer.decay, layer.epsilon) == (0.9, 1e-5)


def test_batch_normalization_initial_values():
    layer = BatchNormalization(beta=0.5, gamma=2.0, stddev=0.01)
    params, state, shape = layer.init(jax.random.PRNGKey(0), (5, 5, 400))
    assert shape == (5, 5, 400)
    np.testing.assert_array_equal(np.asarray(params["beta"]), np.full(400, 0.5))
    gamma = np.asarray(params["gamma"])   # normal(mean=gamma, stddev)
    assert abs(gamma.mean() - 2.0) < 0.003 and abs(gamma.std() - 0.01) < 0.002
    np.testing.assert_array_equal(np.asarray(state["moving_mean"]), np.zeros(400))
    np.testing.assert_array_equal(np.asarray(state["moving_variance"]), np.ones(400))


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 2, 3)])
def test_batch_normalization_train_then_eval_matches_numpy(shape):
    decay, eps = 0.8, 1e-3
    layer = BatchNormalization(decay=decay, epsilon=eps)
    params, state, _ = layer.init(jax.random.PRNGKey(0), shape[1:])
    gamma, beta = RNG.normal(size=3), RNG.normal(size=3)
    params = {"gamma": jnp.asarray(gamma, jnp.float32), "beta": jnp.asarray(beta, jnp.float32)}
    apply = jax.jit(layer.apply, static_argnames="training")
    mean, var = np.zeros(3), np.ones(3)
    for step in range(3):   # the moving averages follow each training batch
        x = RNG.normal(2.0 + step, 3.0, size=shape)
        y, state = apply(params, state, jnp.asarray(x, jnp.float32), training=True, key=None)
        want, mean, var = np_batch_norm_train(x, gamma, beta, mean, var, decay, eps)
        np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(state["moving_mean"]), mean, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(state["moving_variance"]), var, rtol=1e-5)
    # Evaluation uses the moving statistics and leaves them alone.
    x = RNG.normal(size=shape)
    y, after = apply(params, state, jnp.asarray(x, jnp.float32), training=False, key=None)
    np.testing.assert_allclose(np.asarray(y), (x - mean) / np.sqrt(var + eps) * gamma + beta,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(after["moving_mean"]),
                                  np.asarray(state["moving_mean"]))


@pytest.mark.parametrize("shape", [(8, 3), (8, 2, 2, 3)])
def test_batch_normalization_statistics_skip_masked_samples(shape):
    layer = BatchNormalization(decay=0.5)
    params = {"gamma": jnp.ones(3), "beta": jnp.zeros(3)}
    state = {"moving_mean": jnp.zeros(3), "moving_variance": jnp.ones(3)}
    x = RNG.normal(1.0, 2.0, size=shape)
    mask = np.array([1, 1, 0, 1, 1, 1, 0, 0], np.float32)
    padded = x.copy()
    padded[mask == 0] = 1e6   # padding rows hold anything
    apply = jax.jit(lambda x, m: layer.apply(params, state, x, training=True, key=None, mask=m))
    y, new = apply(jnp.asarray(padded, jnp.float32), jnp.asarray(mask))
    real = x[mask == 1]
    want, mean, var = np_batch_norm_train(real, np.ones(3), np.zeros(3), np.zeros(3),
                                          np.ones(3), 0.5, layer.epsilon)
    np.testing.assert_allclose(np.asarray(y)[mask == 1], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(new["moving_mean"]), mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(new["moving_variance"]), var, rtol=1e-5)
    # All ones is the same as no mask; all zeros leaves the moving averages alone.
    y_ones, s_ones = apply(jnp.asarray(x, jnp.float32), jnp.ones(8))
    y_none, s_none = layer.apply(params, state, jnp.asarray(x, jnp.float32), training=True,
                                 key=None)
    np.testing.assert_allclose(np.asarray(y_ones), np.asarray(y_none), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(s_ones["moving_mean"]),
                               np.asarray(s_none["moving_mean"]), rtol=1e-5, atol=1e-7)
    _, s_zero = apply(jnp.asarray(x, jnp.float32), jnp.zeros(8))
    np.testing.assert_array_equal(np.asarray(s_zero["moving_mean"]), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(s_zero["moving_variance"]), np.ones(3))
    assert layer.uses_mask


@pytest.mark.parametrize("kwargs", [{"decay": 1.0}, {"decay": -0.1}, {"epsilon": 0.0}])
def test_batch_normalization_refuses_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        BatchNormalization(**kwargs)


# -- local response normalization -----------------------------------------------------------------

def np_lrn(x, r, bias, alpha, beta):
    """TensorFlow's lrn: x / (bias + alpha * sum of squares over channels c-r..c+r) ** beta."""
    out = np.empty_like(x)
    channels = x.shape[-1]
    for c in range(channels):
        lo, hi = max(0, c - r), min(channels, c + r + 1)
        sq = np.sum(x[..., lo:hi] ** 2, axis=-1)
        out[..., c] = x[..., c] / (bias + alpha * sq) ** beta
    return out


def test_local_response_normalization_keeps_tflearns_defaults():
    d = _defaults(local_response_normalization)
    assert (d["depth_radius"], d["bias"], d["alpha"], d["beta"]) == (5, 1.0, 0.0001, 0.75)
    layer = local_response_normalization(input_data(shape=[None, 4, 4, 3])).layer
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (5, 1.0, 1e-4, 0.75)


@pytest.mark.parametrize("r, bias, alpha, beta", [(5, 1.0, 1e-4, 0.75), (2, 2.0, 0.3, 0.5),
                                                  (0, 1.0, 1.0, 1.0)])
def test_local_response_normalization_matches_numpy(r, bias, alpha, beta):
    x = RNG.normal(size=(2, 3, 3, 9)) * 3
    layer = LocalResponseNormalization(r, bias, alpha, beta)
    _, _, shape = layer.init(jax.random.PRNGKey(0), x.shape[1:])
    y, _ = layer.apply({}, {}, jnp.asarray(x, jnp.float32), training=False, key=None)
    assert y.shape == (2, *shape)
    np.testing.assert_allclose(np.asarray(y), np_lrn(x, r, bias, alpha, beta), rtol=1e-4,
                               atol=1e-6)


def test_local_response_normalization_needs_a_4d_input():
    with pytest.raises(ValueError, match=r"local_response_normalization.*4-D.*\(None, 10\)"):
        local_response_normalization(input_data(shape=[None, 10]))


def test_local_response_normalization_refuses_a_negative_radius():
    with pytest.raises(ValueError, match="depth_radius"):
        LocalResponseNormalization(depth_radius=-1)
