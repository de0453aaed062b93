"""Metrics: tflearn's Accuracy, Top_k, R2 and Prediction_Counts, and Precision, Recall, F1,
AUC and ConfusionMatrix (from `stackit.classification_metrics`).

A metric accumulates sufficient statistics on the device, one batch at a time, with a mask
that drops padded samples; `result` turns them into the value shown. So a metric over an
epoch is exact, not an average of batch averages. An estimator may track several.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from stackit._metric_base import Metric
from stackit._metric_base import labels as _labels
from stackit._registry import configurable, lookup
from stackit.classification_metrics import (
    AUC,
    F1,
    ConfusionMatrix,
    Precision,
    Prediction_Counts,
    Recall,
)

__all__ = ["get", "get_all", "Metric", "Accuracy", "Top_k", "R2", "Precision", "Recall", "F1",
           "AUC", "ConfusionMatrix", "Prediction_Counts", "accuracy_op", "top_k_op", "r2_op",
           "confusion_matrix"]


@configurable
@dataclasses.dataclass(frozen=True)
class Accuracy(Metric):
    """Fraction of samples whose predicted class (argmax) equals the true class.

    For a single output (shape `(batch,)` or `(batch, 1)`), a prediction counts as class 1 when
    it is above 0.5 (binary accuracy).
    """

    name: str = "acc"

    def per_sample(self, y_pred, y_true):
        if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
            pred = y_pred.reshape(y_pred.shape[0]) > 0.5
            return pred == (y_true.reshape(y_true.shape[0]) > 0.5)
        return jnp.argmax(y_pred, axis=-1) == _labels(y_true, y_pred)


@configurable
@dataclasses.dataclass(frozen=True)
class Top_k(Metric):  # noqa: N801 - tflearn's class name
    """Fraction of samples whose true class is among the `k` highest predictions.

    Ties count in the sample's favour, as TensorFlow's `in_top_k`. Shown as `top{k}`.
    """

    k: int = 1
    name: str | None = None  # type: ignore[assignment]  # None: f"top{k}" (__post_init__)

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"Top_k: k must be a positive int. Received: k={self.k!r}.")
        if self.name is None:
            object.__setattr__(self, "name", f"top{self.k}")

    def per_sample(self, y_pred, y_true):
        true = _labels(y_true, y_pred)
        true_score = jnp.take_along_axis(y_pred, true[..., None], axis=-1)
        return jnp.sum(y_pred > true_score, axis=-1) < self.k


@configurable
@dataclasses.dataclass(frozen=True)
class R2(Metric):
    """Coefficient of determination `1 - SS_res / SS_tot` over every output value.

    `SS_tot` is accumulated as a running mean and sum of squared deviations (Chan et al.'s
    parallel update), so targets with a large mean do not lose precision in float32.
    """

    name: str = "R2"

    def init(self):
        return {key: jnp.zeros(()) for key in ("count", "mean", "ss_tot", "ss_res")}

    def update(self, stats, y_pred, y_true, mask):
        y_true = y_true.reshape(y_true.shape[0], -1).astype(jnp.float32)
        y_pred = y_pred.reshape(y_pred.shape[0], -1).astype(jnp.float32)
        keep = jnp.broadcast_to((mask > 0)[:, None], y_true.shape)
        n_b = jnp.sum(keep.astype(jnp.float32))
        mean_b = jnp.sum(jnp.where(keep, y_true, 0.0)) / jnp.maximum(n_b, 1.0)
        ss_b = jnp.sum(jnp.where(keep, jnp.square(y_true - mean_b), 0.0))
        n = stats["count"] + n_b
        delta = mean_b - stats["mean"]
        share = n_b / jnp.maximum(n, 1.0)
        return {"count": n,
                "mean": stats["mean"] + delta * share,
                "ss_tot": stats["ss_tot"] + ss_b + jnp.square(delta) * stats["count"] * share,
                "ss_res": stats["ss_res"] + jnp.sum(jnp.where(keep, jnp.square(y_true - y_pred),
                                                              0.0))}

    def result(self, stats):
        return 1.0 - stats["ss_res"] / jnp.maximum(stats["ss_tot"], 1e-12)


@dataclasses.dataclass(frozen=True)
class _FunctionMetric(Metric):
    """Wraps `fn(y_pred, y_true) -> scalar` as a batch-weighted mean, evaluated per sample."""

    fn: Callable = None  # type: ignore[assignment]
    name: str = "metric"

    def per_sample(self, y_pred, y_true):
        return jax.vmap(lambda p, t: jnp.reshape(self.fn(p[None], t[None]), ()))(y_pred, y_true)


_METRICS = {"accuracy": Accuracy, "acc": Accuracy, "default": Accuracy, "top_k": Top_k,
            "r2": R2, "precision": Precision, "recall": Recall, "f1": F1, "f1_score": F1,
            "auc": AUC, "confusion_matrix": ConfusionMatrix,
            "prediction_counts": Prediction_Counts}

#: Names a metric may not take: the other values of a history.
_RESERVED = ("loss", "lr")


def get(identifier: str | Metric | Callable | None) -> Metric | None:
    """Returns a `Metric` for a name (`'accuracy'`, `'R2'`, `'top_k'`), an instance, or a callable.

    `None` means no metric.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        return lookup("metric", identifier, _METRICS)()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return _FunctionMetric(identifier, getattr(identifier, "__name__", "metric"))
    raise TypeError("Expected a metric name, a Metric or a callable. "
                    f"Received: metric={identifier!r}.")


def get_all(identifier) -> list[Metric]:
    """The metrics of `regression(metric=...)` / `compile(metrics=...)`: one identifier (as
    `get`) or a list of them, in order; None, `[]` and None items mean no metric. A
    `Prediction_Counts` brings its inner metric just before it.

    Raises:
        ValueError: For an unknown name (listing the valid ones), or two metrics with one
            name (they key the history).
        TypeError: For an item that is neither a name, a `Metric` nor a callable.
    """
    items = list(identifier) if isinstance(identifier, (list, tuple)) else [identifier]
    found: list[Metric] = []
    for metric in map(get, items):
        if isinstance(metric, Prediction_Counts):
            inner = get(metric.inner_metric)  # tracked alongside, as tflearn showed it
            found += [inner] if inner is not None else []
        if metric is not None:
            found.append(metric)
    names = [metric.name for metric in found]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"Metrics of one estimator need distinct names; they key the history. "
                         f"Received twice: {twice}. Pass name=..., e.g. "
                         f"Top_k(5, name='top5_b').")
    reserved = [name for name in names if name in _RESERVED]
    if reserved:
        raise ValueError(f"A metric may not be named {reserved[0]!r} (a history key of its "
                         f"own). Pass another name=....")
    return found


def _eval(metric: Metric, y_pred, y_true):
    y_pred, y_true = jnp.asarray(y_pred), jnp.asarray(y_true)
    mask = jnp.ones(y_pred.shape[0])
    return metric.result(metric.update(metric.init(), y_pred, y_true, mask))


def accuracy_op(predictions, targets):
    """Accuracy of `predictions` against one-hot or integer `targets` (tflearn's function)."""
    return _eval(Accuracy(), predictions, targets)


def top_k_op(predictions, targets, k: int = 1):
    """Top-k accuracy (tflearn's function)."""
    return _eval(Top_k(k), predictions, targets)


def r2_op(predictions, targets):
    """R² of `predictions` against `targets` (tflearn's function)."""
    return _eval(R2(), predictions, targets)


def confusion_matrix(model, X, Y=None, batch_size: int = 128):
    """The confusion matrix of a model's predictions on (X, Y): `counts[i, j]` is the number
    of samples of class `i` predicted as class `j` (counted on the device, batch by batch).

    Args:
        model: A `DNN` / `Model` / `Sequential` with a classification estimator.
        X: Inputs, as for `model.evaluate`.
        Y: Targets, as for `model.evaluate`. Defaults to `None`.
        batch_size: Defaults to `128`.

    Returns:
        An int numpy array `(classes, classes)`; for a model with several estimators, a
        dict of them keyed by the name of each estimator that takes targets.
    """
    scores = model.evaluate(X, Y, batch_size, return_dict=True, confusion_matrix=True)
    names = [head.name for head in model.heads if head.target is not None]
    if len(model.heads) == 1:
        return scores["confusion_matrix"]
    return {name: scores[f"{name}_confusion_matrix"] for name in names}
