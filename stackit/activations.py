"""Activation functions by tflearn's names: `get('relu')` or any callable `x -> y`."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from stackit._registry import lookup

__all__ = [
    "get", "linear", "tanh", "sigmoid", "softmax", "softplus", "softsign", "relu", "relu6",
    "leaky_relu", "elu", "crelu", "selu", "hard_sigmoid", "gelu", "swish", "mish",
]


def linear(x):
    """Identity: returns `x` unchanged."""
    return x


def tanh(x):
    """Hyperbolic tangent."""
    return jnp.tanh(x)


def sigmoid(x):
    """Logistic sigmoid `1 / (1 + exp(-x))`."""
    return jax.nn.sigmoid(x)


def softmax(x):
    """Softmax over the last axis."""
    return jax.nn.softmax(x, axis=-1)


def softplus(x):
    """`log(1 + exp(x))`."""
    return jax.nn.softplus(x)


def softsign(x):
    """`x / (1 + |x|)`."""
    return jax.nn.soft_sign(x)


def relu(x):
    """Rectified linear unit `max(x, 0)`."""
    return jax.nn.relu(x)


def relu6(x):
    """ReLU capped at 6."""
    return jax.nn.relu6(x)


def leaky_relu(x, alpha: float = 0.1):
    """Leaky ReLU: `x` where positive, `alpha * x` elsewhere. tflearn's alpha defaults to 0.1."""
    return jnp.where(x >= 0, x, alpha * x)


def elu(x):
    """Exponential linear unit."""
    return jax.nn.elu(x)


def crelu(x):
    """Concatenated ReLU: `[relu(x), relu(-x)]` on the last axis (doubles the channels)."""
    return jnp.concatenate([jax.nn.relu(x), jax.nn.relu(-x)], axis=-1)


def selu(x):
    """Scaled exponential linear unit."""
    return jax.nn.selu(x)


def hard_sigmoid(x):
    """Piecewise-linear sigmoid `clip(0.2 * x + 0.5, 0, 1)`."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def gelu(x):
    """Gaussian error linear unit (tanh approximation)."""
    return jax.nn.gelu(x)


def swish(x):
    """`x * sigmoid(x)`."""
    return jax.nn.swish(x)


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
