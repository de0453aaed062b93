"""Precision, Recall, F1, ConfusionMatrix and AUC, accumulated as counts on the device.

Precision, recall, F1 and the confusion matrix share one sufficient statistic: the confusion
matrix (rows: true class, columns: predicted class), counted in int32 with padding rows left
out. AUC counts each class's scores in a fixed-bin histogram. `stackit.metrics` re-exports
them; this module holds the code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import ClassVar

import jax.numpy as jnp

from stackit._metric_base import Metric, class_ids, keep_mask, n_classes_of, positive_scores
from stackit._registry import configurable

__all__ = ["Precision", "Recall", "F1", "ConfusionMatrix", "AUC", "Prediction_Counts",
           "AVERAGES"]

#: The `average` values of Precision, Recall and F1.
AVERAGES = ("macro", "micro", "binary", None)


class _ClassCounts(Metric):
    """Accumulates the confusion matrix of `num_classes` classes (set by `build`)."""

    num_classes: int | None
    threshold: float

    def _check_counts_args(self) -> None:
        kind = type(self).__name__
        n = self.num_classes
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
            raise ValueError(f"{kind}: num_classes must be an int >= 2 or None (taken from the "
                             f"estimator's output). Received: num_classes={n!r}.")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
            raise ValueError(f"{kind}: threshold must be a number in (0, 1). "
                             f"Received: threshold={t!r}.")

    def build(self, output_shape: Sequence[int]) -> Metric:
        n = n_classes_of(output_shape)
        if self.num_classes is not None and self.num_classes != n:
            raise ValueError(f"{type(self).__name__}: num_classes={self.num_classes}, but the "
                             f"output scores {n} classes (shape {tuple(output_shape)}).")
        return dataclasses.replace(self, num_classes=n)  # type: ignore[type-var]

    def _classes(self) -> int:
        if self.num_classes is None:
            raise ValueError(f"{type(self).__name__} needs num_classes to count: pass "
                             f"{type(self).__name__}(num_classes=...), or use it in a model, "
                             f"which takes it from the estimator's output.")
        return self.num_classes

    def init(self) -> dict:
        n = self._classes()
        return {"counts": jnp.zeros((n, n), jnp.int32)}

    def update(self, stats, y_pred, y_true, mask):
        n = self._classes()
        pred, true = class_ids(y_pred, y_true, self.threshold)
        cell = jnp.where(keep_mask(mask, pred), true * n + pred, n * n)  # n * n: dropped
        counts = jnp.zeros(n * n, jnp.int32).at[cell.reshape(-1)].add(1, mode="drop")
        return {"counts": stats["counts"] + counts.reshape(n, n)}


def _ratio(num, den):
    """`num / den`, 0 where `den` is 0 (as scikit-learn's `zero_division=0`)."""
    return jnp.where(den > 0, num / jnp.maximum(den, 1.0), 0.0)


@dataclasses.dataclass(frozen=True)
class _Averaged(_ClassCounts):
    """A per-class ratio `num / den` of the confusion matrix, averaged as `average` asks."""

    average: str | None = "macro"
    num_classes: int | None = None
    threshold: float = 0.5
    name: str | None = None  # type: ignore[assignment]  # None: from base_name and average
    base_name: ClassVar[str] = "metric"

    def __post_init__(self):
        if self.average not in AVERAGES:
            raise ValueError(f"{type(self).__name__}: average must be one of "
                             f"{', '.join(map(repr, AVERAGES))}. Received: "
                             f"average={self.average!r}.")
        self._check_counts_args()
        if self.name is None:
            suffix = {"macro": "", None: "_per_class"}.get(self.average, f"_{self.average}")
            object.__setattr__(self, "name", self.base_name + suffix)

    @property
    def scalar(self) -> bool:
        return self.average is not None

    def build(self, output_shape: Sequence[int]) -> Metric:
        if self.average == "binary" and n_classes_of(output_shape) != 2:
            raise ValueError(f"{type(self).__name__}: average='binary' needs a binary output "
                             f"(one sigmoid unit or two classes). Received: output shape "
                             f"{tuple(output_shape)}; use average='macro' or 'micro'.")
        return super().build(output_shape)

    def num_den(self, tp, fp, fn):
        """Per class: the numerator and denominator of the ratio."""
        raise NotImplementedError

    def result(self, stats):
        counts = stats["counts"].astype(jnp.float32)
        tp = jnp.diagonal(counts)
        fp, fn = counts.sum(axis=0) - tp, counts.sum(axis=1) - tp
        num, den = self.num_den(tp, fp, fn)
        if self.average is None:
            return _ratio(num, den)
        if self.average == "binary":
            return _ratio(num[1], den[1])
        if self.average == "micro":
            return _ratio(num.sum(), den.sum())
        present = (tp + fp + fn) > 0  # classes among the targets or the predictions
        return jnp.sum(jnp.where(present, _ratio(num, den), 0.0)) / \
            jnp.maximum(jnp.sum(present), 1)


def _averaged_doc(summary: str, base: str) -> str:
    return f"""{summary}

    Args:
        average: `'macro'`: the mean over the classes found among the targets or the
            predictions; `'micro'`: from the counts summed over classes (with one label per
            sample, the accuracy); `'binary'`: class 1 only (binary outputs); None: one value
            per class (an array). Defaults to `'macro'`.
        num_classes: Set from the estimator's output (one unit: 2 classes). Defaults to `None`.
        threshold: A single output above it means class 1. Defaults to `0.5`.
        name: Defaults to `'{base}'`, `'{base}_micro'`, `'{base}_binary'` or
            `'{base}_per_class'`.
    """


@configurable
@dataclasses.dataclass(frozen=True)
class Precision(_Averaged):
    __doc__ = _averaged_doc("Of the samples predicted as a class, the fraction that belong "
                            "to it: `tp / (tp + fp)` (0 for a class never predicted).",
                            "precision")
    base_name: ClassVar[str] = "precision"

    def num_den(self, tp, fp, fn):
        return tp, tp + fp


@configurable
@dataclasses.dataclass(frozen=True)
class Recall(_Averaged):
    __doc__ = _averaged_doc("Of the samples of a class, the fraction predicted as it: "
                            "`tp / (tp + fn)` (0 for a class absent from the targets).",
                            "recall")
    base_name: ClassVar[str] = "recall"

    def num_den(self, tp, fp, fn):
        return tp, tp + fn


@configurable
@dataclasses.dataclass(frozen=True)
class F1(_Averaged):
    __doc__ = _averaged_doc("Harmonic mean of precision and recall: per class "
                            "`2 tp / (2 tp + fp + fn)`; macro F1 is the mean of those.", "f1")
    base_name: ClassVar[str] = "f1"

    def num_den(self, tp, fp, fn):
        return 2 * tp, 2 * tp + fp + fn


@configurable
@dataclasses.dataclass(frozen=True)
class ConfusionMatrix(_ClassCounts):
    """Counts of samples per (true class, predicted class): row `i`, column `j` counts the
    samples of class `i` predicted as `j`. Its value is an int array `(classes, classes)`,
    kept in the history (not shown in the progress line).

    Args:
        num_classes: Set from the estimator's output (one unit: 2 classes). Defaults to `None`.
        threshold: A single output above it means class 1. Defaults to `0.5`.
        name: Defaults to `'confusion_matrix'`.
    """

    num_classes: int | None = None
    threshold: float = 0.5
    name: str = "confusion_matrix"

    def __post_init__(self):
        self._check_counts_args()

    @property
    def scalar(self) -> bool:
        return False

    def result(self, stats):
        return stats["counts"]


@configurable
@dataclasses.dataclass(frozen=True)
class Prediction_Counts(_ClassCounts):  # noqa: N801 - tflearn's class name
    """How many samples were predicted as each class: an int array `(classes,)`, per epoch, in
    the progress line and the history, to see whether a model predicts one class only.

    tflearn's `Prediction_Counts(inner_metric)` printed the counts beside an inner metric. Here
    the inner metric is tracked as well, under its own name: `metric=Prediction_Counts(
    Accuracy())` shows `acc` and keeps `prediction_counts`.

    Args:
        inner_metric: A metric (name, `Metric` or callable) tracked alongside, or None.
            Defaults to `None`.
        name: Defaults to `'prediction_counts'`.
        num_classes: Set from the estimator's output (one unit: 2 classes). Defaults to `None`.
        threshold: A single output above it means class 1. Defaults to `0.5`.
    """

    inner_metric: str | Metric | Callable | None = None
    name: str = "prediction_counts"
    num_classes: int | None = None
    threshold: float = 0.5

    def __post_init__(self):
        self._check_counts_args()

    @property
    def scalar(self) -> bool:
        return False

    def init(self) -> dict:
        return {"counts": jnp.zeros(self._classes(), jnp.int32)}

    def update(self, stats, y_pred, y_true, mask):
        n = self._classes()
        pred, _ = class_ids(y_pred, y_true, self.threshold)
        cell = jnp.where(keep_mask(mask, pred), pred, n)  # n: dropped
        return {"counts": stats["counts"] + jnp.zeros(n, jnp.int32).at[cell.reshape(-1)].add(
            1, mode="drop")}

    def result(self, stats):
        return stats["counts"]


@configurable
@dataclasses.dataclass(frozen=True)
class AUC(Metric):
    """Area under the ROC curve of a binary output (one sigmoid unit, or two classes with the
    second as positive).

    Each sample's score goes into one of `num_thresholds` equal bins of [0, 1] (scores
    outside are clipped), counted separately for positive and negative targets. The area is
    then exact for every (positive, negative) pair whose scores fall in different bins; a
    pair within one bin counts one half (the trapezoidal rule over the bin edges). So the
    error is at most half the fraction of pairs sharing a bin: about `1 / (2 num_thresholds)`
    for scores spread over [0, 1]. NaN when the targets hold only one class.

    Args:
        num_thresholds: Bins of the score histogram. Defaults to `200`.
        name: Defaults to `'auc'`.
    """

    num_thresholds: int = 200
    name: str = "auc"

    def __post_init__(self):
        t = self.num_thresholds
        if isinstance(t, bool) or not isinstance(t, int) or t < 2:
            raise ValueError(f"AUC: num_thresholds must be an int >= 2. "
                             f"Received: num_thresholds={t!r}.")

    def build(self, output_shape: Sequence[int]) -> Metric:
        if n_classes_of(output_shape) != 2:
            raise ValueError(f"AUC needs a binary output: one sigmoid unit or two classes. "
                             f"Received: output shape {tuple(output_shape)}.")
        return self

    def init(self) -> dict:
        return {"pos": jnp.zeros(self.num_thresholds, jnp.int32),
                "neg": jnp.zeros(self.num_thresholds, jnp.int32)}

    def update(self, stats, y_pred, y_true, mask):
        bins = self.num_thresholds
        score, positive = positive_scores(y_pred, y_true)
        keep = keep_mask(mask, score)
        index = jnp.clip(jnp.floor(score.astype(jnp.float32) * bins), 0, bins - 1)
        index = jnp.where(keep, index, bins).astype(jnp.int32)  # NaN padding: dropped too
        out = {}
        for key, which in (("pos", positive), ("neg", ~positive)):
            hits = jnp.where(which, index, bins).reshape(-1)
            out[key] = stats[key] + jnp.zeros(bins, jnp.int32).at[hits].add(1, mode="drop")
        return out

    def result(self, stats):
        pos, neg = stats["pos"].astype(jnp.float32), stats["neg"].astype(jnp.float32)
        below = jnp.cumsum(neg) - neg  # negatives in lower bins
        pairs = jnp.sum(pos) * jnp.sum(neg)
        wins = jnp.sum(pos * (below + 0.5 * neg))
        return jnp.where(pairs > 0, wins / jnp.maximum(pairs, 1.0), jnp.nan)
