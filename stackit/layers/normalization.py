"""Normalization layers: batch, layer, local response and L2 normalization."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax import lax

from stackit.layers.base import Layer, Tensor, as_float, channels_last
from stackit.layers.naming import tflearn_name

__all__ = [
    "BatchNormalization", "LayerNormalization", "LocalResponseNormalization", "L2Normalize",
    "batch_normalization", "local_response_normalization", "l2_normalize",
]


def _moments(x: jax.Array, mask: jax.Array | None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-channel mean and (biased) variance over every axis but the last, counting only the
    samples where `mask > 0`; also whether any sample counted."""
    axes = tuple(range(x.ndim - 1))
    if mask is None:
        return jnp.mean(x, axis=axes), jnp.var(x, axis=axes), jnp.asarray(x.shape[0] > 0)
    keep = jnp.broadcast_to((mask > 0).reshape((-1,) + (1,) * (x.ndim - 1)), x.shape)
    n = jnp.sum(keep, axis=axes)
    safe_n = jnp.maximum(n, 1).astype(x.dtype)
    mean = jnp.sum(jnp.where(keep, x, 0.0), axis=axes) / safe_n
    centered = jnp.where(keep, x - channels_last(mean, x.ndim), 0.0)
    var = jnp.sum(jnp.square(centered), axis=axes) / safe_n
    return mean, var, jnp.any(n > 0)


def _widened(x: jax.Array) -> jax.Array:
    """`x` as a float at least float32: statistics of bfloat16 / float16 activations (mixed
    precision) are computed in float32, and the result cast back to `x`'s dtype."""
    x = as_float(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


@dataclasses.dataclass(frozen=True)
class BatchNormalization(Layer):
    """Normalizes each channel (last axis) with batch statistics in training, moving ones otherwise.

    Moving averages live in the layer state: `moving = decay * moving + (1 - decay) * batch`.
    `apply` also takes an optional `mask` of shape `(batch,)` (1 for real samples, 0 for the
    padding of a last partial batch): batch statistics then cover the real samples only, and
    a batch with none leaves the moving averages unchanged (`uses_mask` says so to callers).

    Args:
        beta: Initial shift. Defaults to `0.0`.
        gamma: Mean of the initial scale (drawn from a normal with `stddev`). Defaults to `1.0`.
        epsilon: Added to the variance. Defaults to `1e-5`.
        decay: Moving-average decay. Defaults to `0.9`.
        stddev: Spread of the initial scale. Defaults to `0.002`.
    """

    beta: float = 0.0
    gamma: float = 1.0
    epsilon: float = 1e-5
    decay: float = 0.9
    stddev: float = 0.002
    default_name = "BatchNormalization"
    fn_name = "batch_normalization"
    uses_mask = True   # `apply` accepts `mask=` (a class attribute, not a hyperparameter)

    def check(self):
        if not 0.0 <= self.decay < 1.0:
            raise self.error("decay must be in [0, 1).", decay=self.decay)
        if self.epsilon <= 0:
            raise self.error("epsilon must be positive.", epsilon=self.epsilon)

    def init(self, key, input_shape):
        if len(input_shape) == 0:
            raise self.error("expected an input with a channel axis.", shape=(None,))
        channels = (input_shape[-1],)
        params = {"beta": jnp.full(channels, self.beta),
                  "gamma": self.gamma + self.stddev * jax.random.normal(key, channels)}
        state = {"moving_mean": jnp.zeros(channels), "moving_variance": jnp.ones(channels)}
        return params, state, tuple(input_shape)

    def apply(self, params, state, x, *, training, key, mask=None):
        del key
        dtype = as_float(x).dtype
        x = _widened(x)
        if training:
            mean, var, seen = _moments(x, mask)
            new = {
                "moving_mean": self.decay * state["moving_mean"] + (1 - self.decay) * mean,
                "moving_variance": self.decay * state["moving_variance"] + (1 - self.decay) * var,
            }
            state = {k: jnp.where(seen, v, state[k]) for k, v in new.items()}
        else:
            mean, var = state["moving_mean"], state["moving_variance"]
        scale = lax.rsqrt(var + self.epsilon) * params["gamma"]
        y = ((x - channels_last(mean, x.ndim)) * channels_last(scale, x.ndim)
             + channels_last(params["beta"], x.ndim))
        return y.astype(dtype), state


@dataclasses.dataclass(frozen=True)
class LocalResponseNormalization(Layer):
    """Divides each value by `(bias + alpha * sum of squares of 2r+1 neighbouring channels)^beta`.

    Args:
        depth_radius: Half-width `r` of the channel window. Defaults to `5`.
        bias: Offset. Defaults to `1.0`.
        alpha: Scale. Defaults to `0.0001`.
        beta: Exponent. Defaults to `0.75`.
    """

    depth_radius: int = 5
    bias: float = 1.0
    alpha: float = 0.0001
    beta: float = 0.75
    default_name = "LocalResponseNormalization"
    fn_name = "local_response_normalization"

    def check(self):
        if not isinstance(self.depth_radius, int) or self.depth_radius < 0:
            raise self.error("depth_radius must be a non-negative int.",
                             depth_radius=self.depth_radius)

    def output_shape(self, input_shape):
        self.expect_rank(input_shape, 3, "batch, height, width, channels")
        return input_shape

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        x = as_float(x)
        r = self.depth_radius
        window = (1, 1, 1, 2 * r + 1)
        sq_sum = lax.reduce_window(x * x, 0.0, lax.add, window, (1, 1, 1, 1),
                                   ((0, 0), (0, 0), (0, 0), (r, r)))
        return x / (self.bias + self.alpha * sq_sum) ** self.beta, state


@dataclasses.dataclass(frozen=True)
class LayerNormalization(Layer):
    """Normalizes each sample over its last axis, then scales by `gamma` and shifts by `beta`
    (Keras's `LayerNormalization`, Ba et al., 2016): `gamma * (x - mean) / sqrt(var + eps) + beta`.

    Args:
        epsilon: Added to the variance. Defaults to `1e-3` (Keras).
        center: Whether to learn the shift `beta`. Defaults to `True`.
        scale: Whether to learn the scale `gamma`. Defaults to `True`.

    Input and output shape: `(batch, ..., features)`.

    Example: `LayerNormalization()(net)`.
    """

    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    default_name = "LayerNormalization"
    fn_name = "layer_normalization"

    def check(self):
        if not self.epsilon > 0:
            raise self.error("epsilon must be positive.", epsilon=self.epsilon)

    def init(self, key, input_shape):
        del key
        if len(input_shape) == 0:
            raise self.error("expected an input with a feature axis.", shape=(None,))
        features = (input_shape[-1],)
        params = {}
        if self.scale:
            params["gamma"] = jnp.ones(features)
        if self.center:
            params["beta"] = jnp.zeros(features)
        return params, {}, tuple(input_shape)

    def apply(self, params, state, x, *, training, key):
        del training, key
        dtype = as_float(x).dtype
        x = _widened(x)
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        y = (x - mean) * lax.rsqrt(var + self.epsilon)
        if self.scale:
            y = y * channels_last(params["gamma"], y.ndim)
        if self.center:
            y = y + channels_last(params["beta"], y.ndim)
        return y.astype(dtype), state


@dataclasses.dataclass(frozen=True)
class L2Normalize(Layer):
    """Divides each slice along `axis` by its L2 norm: `x / sqrt(max(sum(x**2), epsilon))`.

    Args:
        axis: The axis to normalize, counting the batch axis as 0 as tflearn's `dim` does
            (`1` for the features of a 2-D input; negative counts from the end). The batch
            axis itself is refused: samples stay independent.
        epsilon: Lower bound on the sum of squares. Defaults to `1e-12`.

    Example: `l2_normalize(net, dim=1)`.
    """

    axis: int = -1
    epsilon: float = 1e-12
    default_name = "l2_normalize"
    fn_name = "l2_normalize"

    def check(self):
        if isinstance(self.axis, bool) or not isinstance(self.axis, int):
            raise TypeError(f"{self.fn_name} {self.name!r}: dim must be an int. "
                            f"Received: dim={self.axis!r}.")
        if self.axis == 0:
            raise self.error("dim 0 is the batch axis; normalize a sample axis (1 or more, or "
                             "negative from the end).", dim=self.axis)
        if not self.epsilon > 0:
            raise self.error("epsilon must be positive.", epsilon=self.epsilon)

    def output_shape(self, input_shape):
        rank = len(input_shape) + 1
        if not -rank < self.axis < rank or self.axis % rank == 0:
            raise self.error(f"dim is not a sample axis of a {rank}-D input.", dim=self.axis,
                             shape=(None, *input_shape))
        return input_shape

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        x = as_float(x)
        square_sum = jnp.sum(jnp.square(x), axis=self.axis, keepdims=True)
        return x * lax.rsqrt(jnp.maximum(square_sum, self.epsilon)), state


def batch_normalization(incoming: Tensor, beta=0.0, gamma=1.0, epsilon=1e-5, decay=0.9,
                        stddev=0.002, trainable=True, restore=True, reuse=False, scope=None,
                        name: str | None = None) -> Tensor:
    """Adds a `BatchNormalization` layer (tflearn arguments and defaults)."""
    return BatchNormalization(beta=beta, gamma=gamma, epsilon=epsilon, decay=decay,
                              stddev=stddev, trainable=trainable,
                              restore=restore,
                              name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def local_response_normalization(incoming: Tensor, depth_radius=5, bias=1.0, alpha=0.0001,
                                 beta=0.75, name: str | None = None) -> Tensor:
    """Adds a `LocalResponseNormalization` layer (tflearn's defaults)."""
    return LocalResponseNormalization(depth_radius=depth_radius, bias=bias, alpha=alpha,
                                      beta=beta, name=tflearn_name(name))(incoming)


def l2_normalize(incoming: Tensor, dim: int, epsilon: float = 1e-12,
                 name: str | None = None) -> Tensor:
    """Adds an `L2Normalize` layer over axis `dim` (batch axis = 0, as in tflearn)."""
    return L2Normalize(axis=dim, epsilon=epsilon, name=tflearn_name(name))(incoming)
