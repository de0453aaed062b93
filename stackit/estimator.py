"""Estimators: `regression(...)` marks a tensor as trained, with its loss, metric and optimizer.

A model may hold several; `fit` gives each its own optimizer step on every batch, in the order
the estimators were created (tflearn's order of train ops). The estimator is an identity node in
the graph: predicting through it returns the tensor it was applied to.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stackit import losses, metrics, optimizers
from stackit.layers.base import Layer, ParamRef, Tensor

__all__ = ["Regression", "regression"]

#: `Regression.loss` when the loss is a tensor of the graph (its second parent).
LOSS_TENSOR = "<tensor>"


@dataclasses.dataclass(frozen=True)
class Regression(Layer):
    """Marks its input as trained against targets Y. Identity on the forward pass.

    Args:
        optimizer: Name (`'adam'`, `'sgd'`, ...), an `Optimizer` (e.g. `stackit.SGD(0.1)`), or an
            optax transformation. Defaults to `'adam'`.
        loss: Loss name, loss object (e.g. `losses.CategoricalCrossentropy(label_smoothing=0.1)`)
            or callable `fn(y_pred, y_true)`. Defaults to `'categorical_crossentropy'`.
        metric: `'default'` (accuracy), a name, a `Metric` (e.g. `Top_k(3)`), a callable,
            None, or a list of those (several metrics, each logged under its name). Defaults
            to `'default'`.
        learning_rate: Used when `optimizer` is a name: a number or a schedule of the step
            (`stackit.schedules.cosine(0.1, 1000)`, any optax schedule). Defaults to `0.001`.
        batch_size: Training batch size. Defaults to `64`.
        shuffle_batches: Shuffle the training set each epoch. Defaults to `True`.
        to_one_hot: Convert integer targets to one-hot with `n_classes`. Defaults to `False`.
        n_classes: Class count for `to_one_hot`. Defaults to `None`.
        validation_batch_size: Batch size for validation. Defaults to `batch_size`.
        placeholder: The name its targets are fed under, `'default'` (the estimator's name) or
            None when the loss needs no targets. Defaults to `'default'`.
        trainable_vars: `'layer/param'` names of the parameters this estimator's optimizer
            updates; None for every trainable one. Defaults to `None`.
        learning_rates: Per-layer learning rates, `{pattern: multiplier}`: the layers whose
            names match a glob pattern (`'Conv2D*'`) train at `multiplier` times the
            optimizer's learning rate (the first matching pattern counts; others use 1).
            Kept as a tuple of `(pattern, multiplier)` pairs. Defaults to `None`.
    """

    optimizer: object = "adam"
    loss: str | Callable | losses.LossObject = "categorical_crossentropy"
    metric: str | metrics.Metric | Callable | Sequence | None = "default"
    learning_rate: float | Callable = 0.001
    batch_size: int = 64
    shuffle_batches: bool = True
    to_one_hot: bool = False
    n_classes: int | None = None
    validation_batch_size: int | None = None
    placeholder: str | None = "default"
    trainable_vars: tuple[str, ...] | None = None
    learning_rates: tuple[tuple[str, float], ...] | None = dataclasses.field(default=None,
                                                                             kw_only=True)
    default_name = "Regression"
    fn_name = "regression"
    n_inputs = -1  # the tensor it trains, and the loss tensor when the loss is one
    is_estimator = True

    def __post_init__(self):
        # hashable, and a JSON list in configs
        object.__setattr__(self, "learning_rates", _pairs(self.learning_rates))
        super().__post_init__()

    def check(self):
        optimizers.get(self.optimizer, self.learning_rate)
        self._check_learning_rates()
        if self.loss != LOSS_TENSOR and losses.get(self.loss).sparse and self.to_one_hot:
            raise self.error("a sparse loss takes the integer labels as they are; drop "
                             "to_one_hot=True (or use loss='categorical_crossentropy').",
                             to_one_hot=True)
        metrics.get_all(self.metric)
        for arg in ("batch_size", "validation_batch_size"):
            value = getattr(self, arg)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise self.error(f"{arg} must be a positive int.", **{arg: value})
        if self.to_one_hot and (not isinstance(self.n_classes, int) or self.n_classes < 2):
            raise self.error("to_one_hot=True needs n_classes (an int >= 2).",
                             n_classes=self.n_classes)
        if self.placeholder is not None and not isinstance(self.placeholder, str):
            raise self.error("placeholder must be 'default', None or an input_data tensor.",
                             placeholder=self.placeholder)

    def _check_learning_rates(self) -> None:
        groups = self.learning_rates
        if groups is None:
            return
        hint = "learning_rates must map layer-name patterns to multipliers, e.g. " \
               "{'Conv2D*': 0.1}."
        if not isinstance(groups, tuple) or not all(
                isinstance(pair, tuple) and len(pair) == 2 for pair in groups):
            raise TypeError(f"regression {self.name!r}: {hint} Received: "
                            f"learning_rates={groups!r}.")
        for pattern, multiplier in groups:
            if not isinstance(pattern, str) or not pattern:
                raise TypeError(f"regression {self.name!r}: {hint} Received: pattern "
                                f"{pattern!r}.")
            if isinstance(multiplier, bool) or not isinstance(multiplier, numbers.Real):
                raise TypeError(f"regression {self.name!r}: {hint} Received: "
                                f"{pattern!r}: {multiplier!r}.")
            if not math.isfinite(multiplier) or multiplier < 0:
                raise self.error("each learning-rate multiplier must be a finite number >= 0.",
                                 **{"learning_rates[" + repr(pattern) + "]": multiplier})

    @property
    def target_name(self) -> str | None:
        """The key its targets are fed under (None: it takes no targets)."""
        if self.placeholder is None:
            return None
        return self.name if self.placeholder == "default" else self.placeholder

    def init(self, key, input_shape):
        del key
        return {}, {}, tuple(input_shape[0])

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return x[0], state

    def __call__(self, incoming, *, reuse: bool = False) -> Tensor:  # type: ignore[override]
        """Applies the estimator to `incoming` (and, with a tensor loss, that loss tensor)."""
        del reuse
        parents = tuple(incoming) if isinstance(incoming, (list, tuple)) else (incoming,)
        for parent in parents:
            if not isinstance(parent, Tensor):
                raise TypeError(f"regression {self.name!r}: expected the output of a previous "
                                f"layer. Received: incoming={type(parent).__name__}.")
        if (self.loss == LOSS_TENSOR) != (len(parents) == 2) or len(parents) > 2:
            raise self.error("expects the tensor it trains, plus the loss tensor when the "
                             "loss is one.", n=len(parents))
        return Tensor(self, parents)


def regression(incoming: Tensor, placeholder="default", optimizer="adam",
               loss="categorical_crossentropy", metric="default", learning_rate=0.001,
               dtype="float32", batch_size=64, shuffle_batches=True, to_one_hot=False,
               n_classes=None, trainable_vars=None, restore=True, op_name=None,
               validation_monitors=None, validation_batch_size=None,
               name: str | None = None, *,
               learning_rates: Mapping[str, float] | None = None) -> Tensor:
    """Adds an estimator: what `DNN.fit` minimizes (loss), with which optimizer, and the metric.

    Several estimators may share one model (each with its own loss, optimizer, learning rate,
    `trainable_vars` and targets); `fit` steps each optimizer on every batch, in creation order.

    Args:
        incoming: The tensor to train (its value is what `predict` returns).
        placeholder: `'default'`: targets are fed under this estimator's `name`; an
            `input_data` tensor: fed under that input's name; None: no targets (the loss
            is a tensor of the graph or ignores `y_true`). Defaults to `'default'`.
        loss: A loss name, a loss object (`losses.CategoricalCrossentropy(label_smoothing=0.1)`,
            `losses.Huber(delta=2.0)`, ...), a callable `fn(y_pred, y_true)`, or a scalar tensor
            of the graph (e.g. `-reduce_mean(log(disc_fake))`). Defaults to
            `'categorical_crossentropy'`.
        trainable_vars: Parameter handles (e.g. `get_layer_variables_by_scope('Generator')`)
            this estimator's optimizer updates; None for all trainable ones. Defaults to `None`.
        name: The estimator's name, also the key of its targets in a dict. Defaults to `None`.
        learning_rates: `{layer-name pattern: multiplier}`: matching layers train at
            `multiplier * learning_rate`, e.g. `{'Conv2D*': 0.1}` for a body that moves
            ten times slower than a new head (keyword only). Defaults to `None`.

    See `Regression` for the other arguments. `dtype`, `restore`, `op_name` are accepted for
    tflearn compatibility and ignored.
    """
    del dtype, restore, op_name
    if validation_monitors is not None:
        raise ValueError("regression: validation_monitors is not supported by stackit. "
                         f"Received: validation_monitors={validation_monitors!r}.")
    if isinstance(placeholder, Tensor):
        if placeholder.layer.n_inputs != 0:
            raise ValueError(f"regression: placeholder must be 'default', None or an "
                             f"input_data tensor. Received: {placeholder!r}.")
        placeholder = placeholder.name
    parents: tuple[Tensor, ...] = (incoming,)
    if isinstance(loss, Tensor):
        parents, loss = (incoming, loss), LOSS_TENSOR
    if placeholder is None:
        metric = None  # nothing to compare the output with (as tflearn)
    layer = Regression(optimizer, loss, metric, learning_rate, batch_size, shuffle_batches,
                       to_one_hot, n_classes, validation_batch_size, placeholder,
                       _var_names(trainable_vars), name=name,
                       learning_rates=_pairs(learning_rates))
    return layer(list(parents))


def _var_names(refs: Sequence[ParamRef | str] | None) -> tuple[str, ...] | None:
    if refs is None:
        return None
    if isinstance(refs, (ParamRef, str)):
        refs = [refs]
    handles = [ParamRef.of(ref, "regression: trainable_vars must hold") for ref in refs]
    return tuple(f"{ref.layer}/{ref.param}" for ref in handles)


def _pairs(groups: Any) -> Any:
    """`{pattern: multiplier}` as `(pattern, multiplier)` pairs; anything else as it is (the
    estimator's check refuses what is not pairs)."""
    return tuple(groups.items()) if isinstance(groups, Mapping) else groups
