"""The `Metric` contract and the helpers that turn outputs and targets into class ids.

A metric accumulates sufficient statistics on the device, one batch at a time, with a mask
that drops padded samples; `result` turns them into the value shown. So a metric over an
epoch is exact, not an average of batch averages. `stackit.metrics` re-exports `Metric`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp


class Metric:
    """Base class: `init() -> stats`, `update(stats, y_pred, y_true, mask) -> stats`, `result`.

    `update` runs inside the compiled steps (pure `jax.numpy`, `mask` is 1 for real samples
    and 0 for padding); `result(stats)` turns the statistics into the value shown (a number,
    or an array when `scalar` is False). `build(output_shape)` sets the metric up for an
    estimator's output (e.g. its class count) before anything is compiled.
    """

    name = "metric"

    @property
    def scalar(self) -> bool:
        """Whether `result` is one number (else an array: per class, a matrix)."""
        return True

    def build(self, output_shape: Sequence[int]) -> Metric:
        """This metric set up for an estimator whose per-sample output shape is
        `output_shape` (no batch axis); raises ValueError when the metric cannot score it."""
        del output_shape
        return self

    def init(self) -> dict:
        """Fresh accumulators (distinct buffers, so a jitted step may donate them)."""
        return {"total": jnp.zeros(()), "count": jnp.zeros(())}

    def per_sample(self, y_pred, y_true) -> jax.Array:
        """One score per sample; the metric is their mean (subclasses override this or update)."""
        raise NotImplementedError

    def update(self, stats, y_pred, y_true, mask):
        scores = self.per_sample(y_pred, y_true).astype(jnp.float32)
        scores = scores.reshape(scores.shape[0], -1).mean(axis=1)  # (batch, ...) → (batch,)
        keep = mask > 0
        return {"total": stats["total"] + jnp.sum(jnp.where(keep, scores, 0.0)),
                "count": stats["count"] + jnp.sum(jnp.where(keep, 1.0, 0.0))}

    def result(self, stats):
        return stats["total"] / jnp.maximum(stats["count"], 1.0)


def labels(y_true, y_pred):
    """Class ids of `y_true`: argmax of one-hot rows shaped like `y_pred`, else integer labels."""
    if y_true.shape == y_pred.shape:
        return jnp.argmax(y_true, axis=-1)
    return y_true.reshape(y_pred.shape[:-1]).astype(jnp.int32)


def n_classes_of(output_shape: Sequence[int]) -> int:
    """Classes an output of this per-sample shape scores: 2 for one unit (a sigmoid, read as
    `> threshold`), else the size of its last axis (a softmax, read by argmax)."""
    shape = tuple(output_shape)
    return 2 if not shape or shape[-1] == 1 else int(shape[-1])


def _single_unit(y_pred) -> bool:
    return y_pred.ndim == 1 or y_pred.shape[-1] == 1


def class_ids(y_pred, y_true, threshold: float = 0.5) -> tuple[jax.Array, jax.Array]:
    """Predicted and true class ids, each `(batch, positions)` int32 (one position per sample
    unless the output has extra axes, e.g. a sequence).

    One unit: class 1 when the output is above `threshold` (the target above 0.5). Several:
    the argmax, against one-hot rows or integer labels.
    """
    batch = y_pred.shape[0]
    if _single_unit(y_pred):
        pred = y_pred.reshape(batch, -1) > threshold
        true = y_true.reshape(batch, -1) > 0.5
    else:
        pred = jnp.argmax(y_pred, axis=-1).reshape(batch, -1)
        true = labels(y_true, y_pred).reshape(batch, -1)
    return pred.astype(jnp.int32), true.astype(jnp.int32)


def positive_scores(y_pred, y_true) -> tuple[jax.Array, jax.Array]:
    """For a binary output: the score of class 1 and whether the target is class 1, each
    `(batch, positions)` (one unit: its value; two: the second column)."""
    batch = y_pred.shape[0]
    if _single_unit(y_pred):
        return y_pred.reshape(batch, -1), y_true.reshape(batch, -1) > 0.5
    return y_pred[..., 1].reshape(batch, -1), labels(y_true, y_pred).reshape(batch, -1) == 1


def keep_mask(mask, like) -> jax.Array:
    """`mask > 0` broadcast over the positions of `like` (`(batch, positions)`)."""
    return jnp.broadcast_to((mask > 0).reshape(mask.shape[0], 1), like.shape)
