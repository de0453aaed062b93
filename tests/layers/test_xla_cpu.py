"""The few-input-channel path of 2-D convolutions agrees with XLA's convolution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from stackit.layers._xla_cpu import conv_2d


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
