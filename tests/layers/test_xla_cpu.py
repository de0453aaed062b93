"""The few-input-channel path of 2-D convolutions agrees with XLA's convolution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from stackit.layers._xla_cpu import conv_2d, max_pool


def _reference(x, w, strides, padding):
    return lax.conv_general_dilated(x, w, strides, padding,
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _primitives(x, w, strides, padding, dilation=(1, 1)) -> list[str]:
    jaxpr = jax.make_jaxpr(lambda x, w: conv_2d(x, w, strides, padding, dilation))(x, w)
    return [eqn.primitive.name for eqn in jaxpr.jaxpr.eqns]


@pytest.mark.parametrize("shape, kernel, strides, padding", [
    ((3, 11, 11, 1), (5, 5), (1, 1), "SAME"),
    ((2, 9, 12, 3), (3, 3), (1, 1), "VALID"),
    ((2, 10, 9, 3), (3, 3), (2, 2), "SAME"),
    ((2, 13, 13, 2), (4, 3), (3, 2), "VALID"),
    ((2, 8, 8, 1), (2, 2), (1, 1), "SAME"),   # an even window: more padding after than before
])
def test_values_and_gradients_match_xla(shape, kernel, strides, padding):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    w = jnp.asarray(rng.normal(size=(*kernel, shape[-1], 4)), jnp.float32)
    assert _primitives(x, w, strides, padding) == ["custom_vjp_call"]  # the shifted path
    np.testing.assert_allclose(conv_2d(x, w, strides, padding),
                               _reference(x, w, strides, padding), rtol=1e-5, atol=1e-5)

    def loss(f):
        return lambda x, w: jnp.sum(jnp.sin(f(x, w, strides, padding)))

    ours = jax.grad(loss(conv_2d), (0, 1))(x, w)
    want = jax.grad(loss(_reference), (0, 1))(x, w)
    for a, b in zip(ours, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels, kernel, dtype, dilation", [
    (6, (5, 5), jnp.float32, (1, 1)),      # many channels: XLA's kernel is faster
    (3, (5, 5), jnp.float32, (1, 1)),      # 75 terms
    (1, (3, 3), jnp.bfloat16, (1, 1)),     # half precision sums in float32 inside XLA
    (1, (3, 3), jnp.float32, (2, 2)),      # dilated
])
def test_other_convolutions_keep_xla(channels, kernel, dtype, dilation):
    x = jnp.ones((2, 9, 9, channels), dtype)
    w = jnp.ones((*kernel, channels, 4), dtype)
    assert _primitives(x, w, (1, 1), "SAME", dilation) == ["conv_general_dilated"]


@pytest.mark.parametrize("shape, window, strides, padding", [
    ((3, 28, 28, 6), (2, 2), (2, 2), "SAME"),
    ((2, 15, 13, 4), (3, 3), (2, 2), "SAME"),    # overlapping windows, odd sizes, padding
    ((2, 15, 13, 4), (3, 2), (2, 3), "VALID"),
    ((2, 6, 7, 5, 3), (2, 2, 2), (2, 2, 2), "SAME"),   # 3-D
    ((2, 9, 3), (4,), (1,), "VALID"),                  # 1-D
])
def test_max_pool_matches_reduce_window(shape, window, strides, padding):
    x = jnp.asarray(np.random.default_rng(1).normal(size=shape), jnp.float32)
    dims, steps = (1, *window, 1), (1, *strides, 1)

    def reference(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, steps, padding)

    np.testing.assert_array_equal(max_pool(x, dims, steps, padding), reference(x))
    # no ties among random values: the gradients agree exactly too
    g = jnp.asarray(np.random.default_rng(2).normal(size=reference(x).shape), jnp.float32)
    ours = jax.vjp(lambda x: max_pool(x, dims, steps, padding), x)[1](g)[0]
    np.testing.assert_allclose(ours, jax.vjp(reference, x)[1](g)[0], rtol=1e-6, atol=1e-6)


def test_max_pool_shares_the_gradient_between_tied_maxima():
    x = jnp.zeros((1, 2, 2, 1), jnp.float32)
    grad = jax.grad(lambda x: jnp.sum(max_pool(x, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")))(x)
    assert float(jnp.sum(grad)) == pytest.approx(1.0)
    assert float(jnp.max(grad)) < 1.0
