"""Activation functions by tflearn's names: `get('relu')` or any callable `x -> y`.

Each function works on arrays and, as in tflearn, on a layer's output: `relu(net)` adds an
`Activation` layer to the graph (`leaky_relu(net, alpha)` a `LeakyReLU`, `prelu(net)` a
`PReLU` with learned slopes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from stackit._registry import lookup

__all__ = [
    "get", "linear", "tanh", "sigmoid", "softmax", "softplus", "softsign", "relu", "relu6",
    "leaky_relu", "prelu", "elu", "crelu", "selu", "hard_sigmoid", "gelu", "swish", "mish",
]


def _is_tensor(x: Any) -> bool:
    from stackit.layers.base import Tensor  # layers import this module

    return isinstance(x, Tensor)


def _graph_aware(fn: Callable) -> Callable:
    """Lets `fn(tensor)` add an `Activation` layer when given a graph tensor."""

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        if _is_tensor(x):
            from stackit.layers.core import Activation

            return Activation(activation=fn.__name__)(x)
        return fn(x, *args, **kwargs)

    return wrapper


@_graph_aware
def linear(x):
    """Identity: returns `x` unchanged."""
    return x


@_graph_aware
def tanh(x):
    """Hyperbolic tangent."""
    return jnp.tanh(x)


@_graph_aware
def sigmoid(x):
    """Logistic sigmoid `1 / (1 + exp(-x))`."""
    return jax.nn.sigmoid(x)


@_graph_aware
def softmax(x):
    """Softmax over the last axis."""
    return jax.nn.softmax(x, axis=-1)


@_graph_aware
def softplus(x):
    """`log(1 + exp(x))`."""
    return jax.nn.softplus(x)


@_graph_aware
def softsign(x):
    """`x / (1 + |x|)`."""
    return jax.nn.soft_sign(x)


@_graph_aware
def relu(x):
    """Rectified linear unit `max(x, 0)`."""
    return jax.nn.relu(x)


@_graph_aware
def relu6(x):
    """ReLU capped at 6."""
    return jax.nn.relu6(x)


def leaky_relu(x, alpha: float = 0.1, name: str | None = None):
    """Leaky ReLU: `x` where positive, `alpha * x` elsewhere. tflearn's alpha defaults to 0.1."""
    if _is_tensor(x):
        from stackit.layers.core import LeakyReLU

        return LeakyReLU(alpha=alpha, name=name)(x)
    return jnp.where(x >= 0, x, alpha * x)


def prelu(x, channel_shared: bool = False, weights_init="zeros", trainable: bool = True,
          restore: bool = True, reuse: bool = False, scope: str | None = None,
          name: str | None = None):
    """Parametric ReLU with learned slopes: adds a `PReLU` layer on a layer's output `x`.

    Raises:
        TypeError: If `x` is an array: the slopes are parameters, which only a layer holds.
    """
    if not _is_tensor(x):
        raise TypeError("prelu has learned slopes, so it applies to a layer's output (a graph "
                        "tensor), e.g. prelu(fully_connected(net, 64)), or use the PReLU "
                        f"layer. Received: {type(x).__name__}.")
    from stackit.layers.core import PReLU

    return PReLU(channel_shared=channel_shared, weights_init=weights_init, trainable=trainable,
                 restore=restore, name=scope or name)(x, reuse=reuse)


@_graph_aware
def elu(x):
    """Exponential linear unit."""
    return jax.nn.elu(x)


@_graph_aware
def crelu(x):
    """Concatenated ReLU: `[relu(x), relu(-x)]` on the last axis (doubles the channels)."""
    return jnp.concatenate([jax.nn.relu(x), jax.nn.relu(-x)], axis=-1)


@_graph_aware
def selu(x):
    """Scaled exponential linear unit."""
    return jax.nn.selu(x)


@_graph_aware
def hard_sigmoid(x):
    """Piecewise-linear sigmoid `clip(0.2 * x + 0.5, 0, 1)`."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


@_graph_aware
def gelu(x):
    """Gaussian error linear unit (tanh approximation)."""
    return jax.nn.gelu(x)


@_graph_aware
def swish(x):
    """`x * sigmoid(x)`."""
    return jax.nn.swish(x)


@_graph_aware
def mish(x):
    """`x * tanh(softplus(x))`."""
    return x * jnp.tanh(jax.nn.softplus(x))


_ACTIVATIONS = {
    f.__name__: f
    for f in (linear, tanh, sigmoid, softmax, softplus, softsign, relu, relu6, leaky_relu, elu,
              crelu, selu, hard_sigmoid, gelu, swish, mish)
}
_ACTIVATIONS["leakyrelu"] = leaky_relu


def get(identifier: str | Callable | None) -> Callable:
    """Returns the activation function for a name (e.g. `'relu'`) or a callable.

    Args:
        identifier: One of tflearn's activation names, a callable, or `None` (linear).

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    if identifier is None:
        return linear
    return lookup("activation", identifier, _ACTIVATIONS)
