"""The per-sample loss functions behind `stackit.losses`: `fn(y_pred, y_true) -> (batch,)`.

Each takes a batch and returns one value per sample (the mean over any further output axes);
the model masks and averages them. `stackit.losses` re-exports the ones named by tflearn or
registered by name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "categorical_crossentropy", "softmax_categorical_crossentropy",
    "sparse_categorical_crossentropy", "sparse_softmax_categorical_crossentropy",
    "binary_crossentropy", "binary_crossentropy_of_probabilities", "weighted_crossentropy",
    "focal_loss", "softmax_focal_loss", "binary_focal_loss", "binary_focal_loss_of_probabilities",
    "mean_square", "hinge_loss", "huber_loss",
]

_EPSILON = 1e-10
_BINARY_EPSILON = 1e-7  # 1 - 1e-10 is 1.0 in float32: log(1 - p) needs a wider margin
_TINY = 1e-30  # floor of the focal factor's base: keeps d/dx x**gamma finite at x = 0

def _per_sample_mean(values: jax.Array) -> jax.Array:
    """`(batch, ...)` → `(batch,)` by the mean over the other axes (tflearn means over all)."""
    return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values


def _smooth(y_true, label_smoothing: float, n_classes: int):
    """Keras's label smoothing: `y * (1 - ls) + ls / n_classes`."""
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / n_classes


def _log_probabilities(y_pred):
    """`log` of `y_pred` renormalized over the last axis and clipped (tflearn's guard)."""
    y_pred = y_pred / jnp.sum(y_pred, axis=-1, keepdims=True)
    return jnp.log(jnp.clip(y_pred, _EPSILON, 1.0 - _EPSILON))


def _class_ids(y_true, y_pred):
    """Integer targets `(batch, ...)` or `(batch, ..., 1)` as class ids shaped `y_pred[..., 0]`."""
    return y_true.reshape(y_pred.shape[:-1]).astype(jnp.int32)


def categorical_crossentropy(y_pred, y_true, label_smoothing: float = 0.0):
    """`-sum(y_true * log(y_pred))` over classes; `y_pred` are probabilities (renormalized).

    With `label_smoothing`, `y_true` becomes `y_true * (1 - ls) + ls / n_classes` first.
    """
    y_true = _smooth(y_true, label_smoothing, y_true.shape[-1])
    return _per_sample_mean(-jnp.sum(y_true * _log_probabilities(y_pred), axis=-1))


def softmax_categorical_crossentropy(logits, y_true, label_smoothing: float = 0.0):
    """Cross-entropy of `softmax(logits)` against `y_true`, computed stably from logits."""
    y_true = _smooth(y_true, label_smoothing, y_true.shape[-1])
    return _per_sample_mean(optax.softmax_cross_entropy(logits, y_true))


def _sparse_crossentropy(log_p, labels, label_smoothing: float):
    loss = -jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    if label_smoothing:  # -sum((1 - ls) one_hot + ls / K) log p), without the one-hot
        loss = (1.0 - label_smoothing) * loss - label_smoothing * jnp.mean(log_p, axis=-1)
    return _per_sample_mean(loss)


def sparse_categorical_crossentropy(y_pred, y_true, label_smoothing: float = 0.0):
    """`-log(y_pred[label])`, with integer class ids as targets; `y_pred` are probabilities.

    Targets have shape `(batch,)` or `(batch, 1)` (one more leading axis per extra output
    axis). Equals `categorical_crossentropy` against the one-hot targets.
    """
    return _sparse_crossentropy(_log_probabilities(y_pred), _class_ids(y_true, y_pred),
                                label_smoothing)


def sparse_softmax_categorical_crossentropy(logits, y_true, label_smoothing: float = 0.0):
    """`sparse_categorical_crossentropy` of `softmax(logits)`, computed stably from logits."""
    return _sparse_crossentropy(jax.nn.log_softmax(logits), _class_ids(y_true, logits),
                                label_smoothing)


def binary_crossentropy(logits, y_true, label_smoothing: float = 0.0):
    """Mean sigmoid cross-entropy over outputs, from logits (as tflearn's).

    With `label_smoothing`, `y_true` becomes `y_true * (1 - ls) + ls / 2` first.
    """
    y_true = _smooth(y_true, label_smoothing, 2)
    return _per_sample_mean(optax.sigmoid_binary_cross_entropy(logits, y_true))


def binary_crossentropy_of_probabilities(y_pred, y_true, label_smoothing: float = 0.0):
    """`binary_crossentropy` of outputs that are probabilities (clipped to (0, 1))."""
    y_true = _smooth(y_true, label_smoothing, 2)
    p = jnp.clip(y_pred, _BINARY_EPSILON, 1.0 - _BINARY_EPSILON)
    return _per_sample_mean(-(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log1p(-p)))


def weighted_crossentropy(logits, y_true, weight: float = 1.0):
    """Sigmoid cross-entropy from logits with positive targets weighted by `weight`."""
    log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
    return _per_sample_mean(-(weight * y_true * log_p + (1.0 - y_true) * log_not_p))


def _focal_factor(p_other, gamma: float):
    """`(1 - p_t) ** gamma`, given `1 - p_t`."""
    return jnp.power(jnp.maximum(p_other, _TINY), gamma)


def _categorical_focal(log_p, y_true, gamma: float, alpha):
    weight = _focal_factor(1.0 - jnp.exp(log_p), gamma)
    if alpha is not None:
        alpha = jnp.asarray(alpha, log_p.dtype)
        weight = weight * alpha.reshape((1,) * (log_p.ndim - alpha.ndim) + alpha.shape)
    return _per_sample_mean(-jnp.sum(y_true * weight * log_p, axis=-1))


def focal_loss(y_pred, y_true, gamma: float = 2.0,
               alpha: float | tuple[float, ...] | None = None):
    """Focal loss (Lin et al. 2017) over classes: `-sum(alpha_c y_c (1 - p_c)**gamma log p_c)`.

    `y_pred` are probabilities (renormalized), `y_true` one-hot rows. `alpha` is None (1 for
    every class), one number, or one number per class. With `gamma=0` and no `alpha` it is
    `categorical_crossentropy`.
    """
    return _categorical_focal(_log_probabilities(y_pred), y_true, gamma, alpha)


def softmax_focal_loss(logits, y_true, gamma: float = 2.0, alpha=None):
    """`focal_loss` of `softmax(logits)`, computed from logits."""
    return _categorical_focal(jax.nn.log_softmax(logits), y_true, gamma, alpha)


def _binary_focal(log_p, log_q, y_true, gamma: float, alpha: float | None):
    pos, neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    loss = (pos * y_true * _focal_factor(jnp.exp(log_q), gamma) * log_p
            + neg * (1.0 - y_true) * _focal_factor(jnp.exp(log_p), gamma) * log_q)
    return _per_sample_mean(-loss)


def binary_focal_loss(logits, y_true, gamma: float = 2.0, alpha: float | None = None):
    """Binary focal loss (Lin et al. 2017) from logits, averaged over outputs.

    Per output, with `p = sigmoid(logits)`: `-alpha y (1 - p)**gamma log p
    - (1 - alpha) (1 - y) p**gamma log(1 - p)`; with `alpha=None` both weights are 1.
    """
    return _binary_focal(jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits), y_true, gamma,
                         alpha)


def binary_focal_loss_of_probabilities(y_pred, y_true, gamma: float = 2.0, alpha=None):
    p = jnp.clip(y_pred, _BINARY_EPSILON, 1.0 - _BINARY_EPSILON)
    return _binary_focal(jnp.log(p), jnp.log1p(-p), y_true, gamma, alpha)


def mean_square(y_pred, y_true):
    """Mean of `(y_pred - y_true) ** 2` over outputs."""
    return _per_sample_mean(jnp.square(y_pred - y_true))


def hinge_loss(y_pred, y_true):
    """Mean of `max(1 - y_true * y_pred, 0)` over outputs (targets in {-1, 1})."""
    return _per_sample_mean(jnp.maximum(1.0 - y_true * y_pred, 0.0))


def huber_loss(y_pred, y_true, delta: float = 1.0):
    """Mean over outputs of `0.5 e**2` where `|e| <= delta`, else `delta (|e| - 0.5 delta)`,
    with `e = y_pred - y_true`."""
    error = jnp.abs(y_pred - y_true)
    quadratic = jnp.minimum(error, delta)
    return _per_sample_mean(0.5 * jnp.square(quadratic) + delta * (error - quadratic))
