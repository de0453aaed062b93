"""Per-sample loss weights from `fit(sample_weight=..., class_weight=...)`, checked on the host.

An estimator's weights travel with the targets (under `Head.weight_key`), so they are shuffled,
batched, padded and placed exactly like Y; the compiled step multiplies each sample's loss by
its weight and by the padding mask. Before training, each estimator's weights are rescaled to
mean 1 over the training samples: an epoch's loss is then exactly `sum(w_i l_i) / sum(w_i)`,
and each batch's loss (`sum(w_i l_i)` over its real samples, divided by their number) is an
unbiased estimate of it, whatever the batch holds.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stackit._registry import name_of
from stackit.engine.heads import WEIGHT_KEY_PREFIX, Head

__all__ = ["loss_weights", "normalized", "without_weights"]


def loss_weights(heads: Sequence[Head], y: dict[str, np.ndarray], n: int, sample_weight: Any,
                 class_weight: Any) -> dict[str, np.ndarray]:
    """Each weighted estimator's per-sample weights, `{head.weight_key: (n,) float64}`.

    Args:
        heads: The model's heads.
        y: The checked targets, keyed by target key.
        n: The number of samples.
        sample_weight: None; one weight >= 0 per sample, for every estimator; or a dict of
            such arrays keyed by estimator name.
        class_weight: None; `{class id: weight >= 0}` (classes left out weigh 1), for the one
            classification estimator; or a dict of those keyed by estimator name.

    Raises:
        ValueError: For weights of the wrong length, negative or non-finite weights, unknown
            class ids or estimator names, or estimators that cannot be weighted.
        TypeError: For weights that are not numbers.
    """
    weights: dict[str, np.ndarray] = {}
    for head, value in _per_head(heads, sample_weight, "sample_weight"):
        weights[head.weight_key] = _sample_weights(value, n, _role("sample_weight", head, heads))
    for head, table in _class_tables(heads, class_weight):
        classes, n_classes = _class_ids(head, y)
        factors = _class_factors(table, n_classes, head, heads)
        weights[head.weight_key] = weights.get(head.weight_key, 1.0) * factors[classes]
    return weights


def normalized(y: dict[str, Any], role: str = "training") -> dict[str, Any]:
    """`y` with each weight array rescaled to mean 1 (over the samples `y` holds: the
    training set, or the `role` set), as float32.

    Raises:
        ValueError: If an estimator's weights are all 0.
    """
    out = dict(y)
    for key, w in y.items():
        if not key.startswith(WEIGHT_KEY_PREFIX):
            continue
        total = float(np.sum(w, dtype=np.float64))
        if not total > 0:
            raise ValueError(f"Every {role} sample of regression "
                             f"{key[len(WEIGHT_KEY_PREFIX):]!r} has weight 0 (sample_weight "
                             f"times class_weight): there is nothing to learn from. Expected "
                             f"at least one positive weight among the {role} samples.")
        out[key] = (np.asarray(w, np.float64) * (len(w) / total)).astype(np.float32)
    return out


def without_weights(y: dict[str, Any]) -> dict[str, Any]:
    """`y` without the weight arrays (the part `validation_set=0.1` holds out is scored
    unweighted)."""
    return {k: v for k, v in y.items() if not k.startswith(WEIGHT_KEY_PREFIX)}


# -- which estimators ------------------------------------------------------------------------------


def _role(arg: str, head: Head, heads: Sequence[Head]) -> str:
    return arg if len(heads) == 1 else f"{arg}[{head.name!r}]"


def _lookup(key: Any, heads: Sequence[Head], arg: str) -> Head:
    """The head a dict key names: its estimator name, its target key or its tensor."""
    for head in heads:
        if key is head.node or (isinstance(key, str) and key in (head.name, head.target)):
            return head
    raise ValueError(f"{arg} has the key {key!r}, which names none of this model's estimators. "
                     f"Expected keys among: {[h.name for h in heads]}.")


def _weighable(head: Head, arg: str) -> Head:
    if head.loss is None:
        raise ValueError(f"{arg}: regression {head.name!r} has a loss tensor of the graph, "
                         f"already a batch mean, which cannot be weighted per sample. Pass "
                         f"{arg} as a dict keyed by the names of the estimators to weigh.")
    return head


def _per_head(heads: Sequence[Head], value: Any, arg: str) -> list[tuple[Head, Any]]:
    """`value` for every head (or, as a dict keyed by estimator, for the heads it names)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        picked = [(_lookup(key, heads, arg), v) for key, v in value.items()]
        names = [head.name for head, _ in picked]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"{arg} names the estimators {twice} twice (by name and by "
                             f"target key or tensor). Expected one entry per estimator.")
        return [(_weighable(head, arg), v) for head, v in picked]
    return [(_weighable(head, arg), value) for head in heads]


def _class_tables(heads: Sequence[Head], class_weight: Any) -> list[tuple[Head, Mapping]]:
    if class_weight is None:
        return []
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class id: weight}}. "
                        f"Received: {type(class_weight).__name__}.")
    if class_weight and all(isinstance(v, Mapping) for v in class_weight.values()):
        return _per_head(heads, class_weight, "class_weight")
    candidates = [h for h in heads if h.loss is not None and _class_source(h) is not None]
    if len(candidates) != 1:
        which = (f"this model has several classification estimators "
                 f"{[h.name for h in candidates]}" if candidates else
                 "this model has no estimator whose targets name one class per sample")
        raise ValueError(f"class_weight={{class: weight}} applies to the model's one "
                         f"classification estimator, and {which}. Pass a dict per estimator: "
                         f"class_weight={{'<estimator name>': {{class: weight}}, ...}}.")
    return [(candidates[0], class_weight)]


# -- the numbers ---------------------------------------------------------------------------------


def _sample_weights(value: Any, n: int, role: str) -> np.ndarray:
    try:
        w = np.asarray(value)
    except ValueError:
        raise ValueError(f"{role} could not be read as an array (ragged lists?).") from None
    if w.dtype == bool or not (np.issubdtype(w.dtype, np.integer)
                               or np.issubdtype(w.dtype, np.floating)):
        raise TypeError(f"{role} must hold numbers, one weight per sample. "
                        f"Received: {role}.dtype={w.dtype}.")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"{role} must hold one weight per sample: shape ({n},), the length of "
                         f"X. Received: {role}.shape={w.shape}.")
    w = w.astype(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{role} must hold finite weights >= 0. Received: {role}[{i}]={w[i]} "
                         f"({int(bad.sum())} such weight(s) in all).")
    return w


def _class_source(head: Head) -> str | None:
    """How `head`'s targets give each sample's class: 'labels', 'argmax', 'threshold' or None."""
    loss, out = head.loss, head.output.sample_shape
    if loss is None:
        return None
    if head.estimator.to_one_hot or (loss.sparse and len(out) == 1):
        return "labels"
    if loss.categorical and len(out) == 1:
        return "argmax"
    sigmoid = "sigmoid" in (loss.logits_of, loss.stable_activation)
    if sigmoid and out in ((), (1,)):
        return "threshold"
    return None


def _class_ids(head: Head, y: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Each sample's class id, and the number of classes."""
    source = _class_source(head)
    target = y.get(head.target) if head.target is not None else None
    if source is None or target is None:
        loss = head.estimator.loss
        raise ValueError(
            f"class_weight weighs samples by their class, and the targets of regression "
            f"{head.name!r} do not give one class per sample. Expected a categorical or sparse "
            f"loss on an output of shape (None, n_classes), or a sigmoid loss on one unit. "
            f"Received: loss={name_of(loss) if not isinstance(loss, str) else loss!r}, output "
            f"shape={(None, *head.output.sample_shape)}. Pass sample_weight instead.")
    out = head.output.sample_shape
    if source == "labels":
        n_classes = head.n_classes or out[-1]
        return target.reshape(len(target)).astype(np.int64), n_classes
    if source == "argmax":
        return np.argmax(target, axis=-1), out[-1]
    return (target.reshape(len(target)) > 0.5).astype(np.int64), 2


def _class_factors(table: Mapping, n_classes: int, head: Head,
                   heads: Sequence[Head]) -> np.ndarray:
    """`{class id: weight}` as a (n_classes,) array; classes left out weigh 1 (as Keras)."""
    role = _role("class_weight", head, heads)
    factors = np.ones(n_classes)
    for cls, weight in table.items():
        if isinstance(cls, bool) or not isinstance(cls, numbers.Integral):
            raise TypeError(f"{role} must be keyed by class ids (ints). Received the key "
                            f"{cls!r}.")
        if not 0 <= int(cls) < n_classes:
            raise ValueError(f"{role} has the class {cls}, which regression {head.name!r} "
                             f"does not have: its classes are 0..{n_classes - 1}.")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise TypeError(f"{role}[{cls}] must be a number. Received: {weight!r}.")
        if not (0 <= float(weight) < math.inf):
            raise ValueError(f"{role}[{cls}] must be a finite weight >= 0. Received: {weight!r}.")
        factors[int(cls)] = float(weight)
    return factors
