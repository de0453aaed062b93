"""Losses by tflearn's names. Each returns one value per sample; the model averages them.

Losses that are more accurate on pre-activation values say so with `from_logits`: when the
network's last layer ends in that activation (softmax or sigmoid), the model feeds the loss the
values *before* the activation, so e.g. softmax + categorical_crossentropy never takes `log(0)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from stackit._registry import lookup

__all__ = [
    "get", "Loss", "categorical_crossentropy", "softmax_categorical_crossentropy",
    "binary_crossentropy", "weighted_crossentropy", "mean_square", "hinge_loss",
]

_EPSILON = 1e-10


def _per_sample_mean(values: jax.Array) -> jax.Array:
    """`(batch, ...)` → `(batch,)` by the mean over the other axes (tflearn means over all)."""
    return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values


def categorical_crossentropy(y_pred, y_true):
    """`-sum(y_true * log(y_pred))` over classes; `y_pred` are probabilities (renormalized)."""
    y_pred = y_pred / jnp.sum(y_pred, axis=-1, keepdims=True)
    y_pred = jnp.clip(y_pred, _EPSILON, 1.0 - _EPSILON)
    return _per_sample_mean(-jnp.sum(y_true * jnp.log(y_pred), axis=-1))


def softmax_categorical_crossentropy(logits, y_true):
    """Cross-entropy of `softmax(logits)` against `y_true`, computed stably from logits."""
    return _per_sample_mean(optax.softmax_cross_entropy(logits, y_true))


def binary_crossentropy(logits, y_true):
    """Mean sigmoid cross-entropy over outputs, from logits (as tflearn's)."""
    return _per_sample_mean(optax.sigmoid_binary_cross_entropy(logits, y_true))


def weighted_crossentropy(logits, y_true, weight: float = 1.0):
    """Sigmoid cross-entropy from logits with positive targets weighted by `weight`."""
    log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
    return _per_sample_mean(-(weight * y_true * log_p + (1.0 - y_true) * log_not_p))


def mean_square(y_pred, y_true):
    """Mean of `(y_pred - y_true) ** 2` over outputs."""
    return _per_sample_mean(jnp.square(y_pred - y_true))


def hinge_loss(y_pred, y_true):
    """Mean of `max(1 - y_true * y_pred, 0)` over outputs (targets in {-1, 1})."""
    return _per_sample_mean(jnp.maximum(1.0 - y_true * y_pred, 0.0))


@dataclasses.dataclass(frozen=True)
class Loss:
    """A per-sample loss and how it relates to the last activation.

    Attributes:
        fn: `fn(y_pred, y_true) -> (batch,)` losses.
        logits_of: Name of the activation whose *input* `fn` expects (`'softmax'`/`'sigmoid'`),
            or None when `fn` takes the network's output as it is.
        stable_fn: For a loss on probabilities, the same loss computed from logits, used when
            the last activation is `stable_activation`.
        stable_activation: The activation `stable_fn` undoes.
    """

    fn: Callable
    logits_of: str | None = None
    stable_fn: Callable | None = None
    stable_activation: str | None = None
    categorical: bool = False


_LOSSES = {
    "categorical_crossentropy": Loss(categorical_crossentropy,
                                     stable_fn=softmax_categorical_crossentropy,
                                     stable_activation="softmax", categorical=True),
    "softmax_categorical_crossentropy": Loss(softmax_categorical_crossentropy,
                                             logits_of="softmax", categorical=True),
    "binary_crossentropy": Loss(binary_crossentropy, logits_of="sigmoid"),
    "weighted_crossentropy": Loss(weighted_crossentropy, logits_of="sigmoid"),
    "mean_square": Loss(mean_square),
    "hinge_loss": Loss(hinge_loss),
}


def _per_sample(fn: Callable) -> Callable:
    """Wraps a user loss `fn(y_pred, y_true) -> scalar` so it yields one value per sample."""

    def per_sample(y_pred, y_true):
        return jax.vmap(lambda p, t: jnp.reshape(fn(p[None], t[None]), ()))(y_pred, y_true)

    per_sample.__name__ = getattr(fn, "__name__", "custom_loss")
    return per_sample


def get(identifier: str | Callable | Loss) -> Loss:
    """Returns the `Loss` for a tflearn name, or wraps a callable `fn(y_pred, y_true) -> scalar`.

    A callable is evaluated one sample at a time (so padded samples can be masked out) and must
    return the mean loss of the samples it is given, as tflearn's custom losses do.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    if isinstance(identifier, Loss):
        return identifier
    found = lookup("loss", identifier, _LOSSES)
    return found if isinstance(found, Loss) else Loss(_per_sample(found))
