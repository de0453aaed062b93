"""Losses by tflearn's names, and Keras-style loss objects. Each returns one value per sample;
the model averages them (weighted by `fit(sample_weight=..., class_weight=...)` when given).

Losses that are more accurate on pre-activation values say so: when the network's last layer
ends in that activation (softmax or sigmoid), the model feeds the loss the values *before* the
activation, so e.g. softmax + categorical_crossentropy never takes `log(0)`.

Parameters (label smoothing, focal `gamma`/`alpha`, Huber's `delta`) are set with the loss
objects, `regression(net, loss=losses.CategoricalCrossentropy(label_smoothing=0.1))`; a name
gives the defaults. The objects are saved with the model's architecture.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp

from stackit._registry import configurable, lookup
from stackit.loss_functions import (
    binary_crossentropy,
    binary_crossentropy_of_probabilities,
    binary_focal_loss,
    binary_focal_loss_of_probabilities,
    categorical_crossentropy,
    focal_loss,
    hinge_loss,
    huber_loss,
    mean_square,
    softmax_categorical_crossentropy,
    softmax_focal_loss,
    sparse_categorical_crossentropy,
    sparse_softmax_categorical_crossentropy,
    weighted_crossentropy,
)

__all__ = [
    "get", "Loss", "categorical_crossentropy", "softmax_categorical_crossentropy",
    "sparse_categorical_crossentropy", "sparse_softmax_categorical_crossentropy",
    "binary_crossentropy", "weighted_crossentropy", "focal_loss", "binary_focal_loss",
    "mean_square", "hinge_loss", "huber_loss",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
    "FocalLoss", "BinaryFocalLoss", "Huber", "LossObject",
]

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Loss:
    """A per-sample loss and how it relates to the last activation and the targets.

    Attributes:
        fn: `fn(y_pred, y_true) -> (batch,)` losses.
        logits_of: Name of the activation whose *input* `fn` expects (`'softmax'`/`'sigmoid'`),
            or None when `fn` takes the network's output as it is.
        stable_fn: For a loss on probabilities, the same loss computed from logits, used when
            the last activation is `stable_activation`.
        stable_activation: The activation `stable_fn` undoes.
        categorical: Targets are class-probability rows (one-hot), checked as such.
        sparse: Targets are integer class ids, one per output row (no class axis).
        check_output: Called with the estimator's per-sample output shape when the model is
            built; raises ValueError when the loss cannot train that output.
    """

    fn: Callable
    logits_of: str | None = None
    stable_fn: Callable | None = None
    stable_activation: str | None = None
    categorical: bool = False
    sparse: bool = False
    check_output: Callable[[Shape], None] | None = None


def _bind(fn: Callable, **kwargs) -> Callable:
    """`fn` with the `kwargs` that differ from its defaults bound (`fn` itself when none do)."""
    defaults = inspect.signature(fn).parameters
    changed = {k: v for k, v in kwargs.items() if v != defaults[k].default}
    return functools.partial(fn, **changed) if changed else fn


def _from_probabilities_or_logits(prob_fn: Callable, logits_fn: Callable, activation: str,
                                  from_logits: bool, **flags) -> Loss:
    """A loss on probabilities with a stable form from `activation`'s logits, or (with
    `from_logits`) a loss on those logits."""
    if from_logits:
        return Loss(logits_fn, logits_of=activation, **flags)
    return Loss(prob_fn, stable_fn=logits_fn, stable_activation=activation, **flags)


def _needs_classes(what: str, alpha=None) -> Callable[[Shape], None]:
    """An output check: a class axis of at least 2 (and one `alpha` per class, when a tuple)."""

    def check(shape: Shape) -> None:
        if not shape or shape[-1] < 2:
            raise ValueError(f"{what} needs an output with one unit per class (at least 2). "
                             f"Received: output shape={(None, *shape)}.")
        if isinstance(alpha, tuple) and len(alpha) != shape[-1]:
            raise ValueError(f"{what} has {len(alpha)} alpha values but the output has "
                             f"{shape[-1]} classes. Received: alpha={alpha}.")

    return check


# -- loss objects ---------------------------------------------------------------------------------


class LossObject:
    """Base of the loss objects: a loss with parameters, saved with the model's architecture
    (a frozen dataclass registered for configs); `losses.get` turns it into a `Loss`."""

    def resolve(self) -> Loss:
        """The `Loss` this object describes."""
        raise NotImplementedError

    def _refuse(self, message: str, **received) -> ValueError:
        tail = ", ".join(f"{k}={v!r}" for k, v in received.items())
        return ValueError(f"{type(self).__name__}: {message} Received: {tail}.")

    def _check_number(self, name: str, low: float, high: float = math.inf, *,
                      open_low: bool = False) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{type(self).__name__}: {name} must be a number. "
                            f"Received: {name}={value!r}.")
        number = float(value)
        if not (low < number if open_low else low <= number) or not number <= high \
                or not math.isfinite(number):
            if high < math.inf:
                span = f"in [{low:g}, {high:g}]"
            else:
                span = f"{'>' if open_low else '>='} {low:g}"
            raise self._refuse(f"{name} must be a finite number {span}.", **{name: value})
        object.__setattr__(self, name, number)

    def _check_flag(self, name: str) -> None:
        if not isinstance(getattr(self, name), bool):
            raise TypeError(f"{type(self).__name__}: {name} must be a bool. "
                            f"Received: {name}={getattr(self, name)!r}.")


@configurable
@dataclasses.dataclass(frozen=True)
class CategoricalCrossentropy(LossObject):
    """Categorical cross-entropy against one-hot (or probability) targets.

    Args:
        label_smoothing: In [0, 1]; targets become `y * (1 - ls) + ls / n_classes`.
            Defaults to `0.0`.
        from_logits: The outputs are logits (as `'softmax_categorical_crossentropy'`); else
            probabilities, read from the logits after a softmax layer. Defaults to `False`.
    """

    label_smoothing: float = 0.0
    from_logits: bool = False

    def __post_init__(self):
        self._check_number("label_smoothing", 0.0, 1.0)
        self._check_flag("from_logits")

    def resolve(self) -> Loss:
        ls = self.label_smoothing
        return _from_probabilities_or_logits(
            _bind(categorical_crossentropy, label_smoothing=ls),
            _bind(softmax_categorical_crossentropy, label_smoothing=ls), "softmax",
            self.from_logits, categorical=True)


@configurable
@dataclasses.dataclass(frozen=True)
class SparseCategoricalCrossentropy(LossObject):
    """Categorical cross-entropy against integer class ids (no one-hot targets needed).

    Targets have shape `(N,)` or `(N, 1)`; the output has one unit per class.

    Args:
        label_smoothing: In [0, 1], as `CategoricalCrossentropy`'s. Defaults to `0.0`.
        from_logits: The outputs are logits; else probabilities, read from the logits after
            a softmax layer. Defaults to `False`.
    """

    label_smoothing: float = 0.0
    from_logits: bool = False

    def __post_init__(self):
        self._check_number("label_smoothing", 0.0, 1.0)
        self._check_flag("from_logits")

    def resolve(self) -> Loss:
        ls = self.label_smoothing
        return _from_probabilities_or_logits(
            _bind(sparse_categorical_crossentropy, label_smoothing=ls),
            _bind(sparse_softmax_categorical_crossentropy, label_smoothing=ls), "softmax",
            self.from_logits, sparse=True,
            check_output=_needs_classes("sparse_categorical_crossentropy"))


@configurable
@dataclasses.dataclass(frozen=True)
class BinaryCrossentropy(LossObject):
    """Binary (sigmoid) cross-entropy per output, averaged over outputs; targets in [0, 1].

    Args:
        label_smoothing: In [0, 1]; targets become `y * (1 - ls) + ls / 2`. Defaults to `0.0`.
        from_logits: The outputs are logits (as `'binary_crossentropy'`, tflearn's); else
            probabilities, read from the logits after a sigmoid layer (Keras's default).
            Defaults to `False`.
    """

    label_smoothing: float = 0.0
    from_logits: bool = False

    def __post_init__(self):
        self._check_number("label_smoothing", 0.0, 1.0)
        self._check_flag("from_logits")

    def resolve(self) -> Loss:
        ls = self.label_smoothing
        return _from_probabilities_or_logits(
            _bind(binary_crossentropy_of_probabilities, label_smoothing=ls),
            _bind(binary_crossentropy, label_smoothing=ls), "sigmoid", self.from_logits)


@configurable
@dataclasses.dataclass(frozen=True)
class FocalLoss(LossObject):
    """Focal loss over classes (Lin et al. 2017), against one-hot targets: down-weights
    well-classified samples by `(1 - p_true) ** gamma`.

    Args:
        gamma: Focusing parameter >= 0 (0: cross-entropy). Defaults to `2.0`.
        alpha: None (no class weighting), one number, or one number >= 0 per class.
            Defaults to `None`.
        from_logits: The outputs are logits; else probabilities, read from the logits after
            a softmax layer. Defaults to `False`.
    """

    gamma: float = 2.0
    alpha: float | tuple[float, ...] | None = None
    from_logits: bool = False

    def __post_init__(self):
        self._check_number("gamma", 0.0)
        self._check_flag("from_logits")
        alpha = self.alpha
        if isinstance(alpha, (list, tuple)):
            alpha = tuple(alpha)
            if not alpha or any(isinstance(a, bool) or not isinstance(a, numbers.Real)
                                or not (0 <= a < math.inf) for a in alpha):
                raise self._refuse("alpha must be None, a number or one finite number >= 0 "
                                   "per class.", alpha=self.alpha)
            object.__setattr__(self, "alpha", tuple(float(a) for a in alpha))
        elif alpha is not None:
            self._check_number("alpha", 0.0)

    def resolve(self) -> Loss:
        kwargs = {"gamma": self.gamma, "alpha": self.alpha}
        return _from_probabilities_or_logits(
            _bind(focal_loss, **kwargs), _bind(softmax_focal_loss, **kwargs), "softmax",
            self.from_logits, categorical=True,
            check_output=_needs_classes("focal_loss", self.alpha))


@configurable
@dataclasses.dataclass(frozen=True)
class BinaryFocalLoss(LossObject):
    """Binary focal loss (Lin et al. 2017) per output, averaged over outputs; targets in [0, 1].

    Args:
        gamma: Focusing parameter >= 0 (0: binary cross-entropy). Defaults to `2.0`.
        alpha: Weight of positive targets in [0, 1] (negatives get `1 - alpha`), or None for
            1 on both. Defaults to `None`.
        from_logits: The outputs are logits (as `'binary_focal_loss'`); else probabilities,
            read from the logits after a sigmoid layer. Defaults to `False`.
    """

    gamma: float = 2.0
    alpha: float | None = None
    from_logits: bool = False

    def __post_init__(self):
        self._check_number("gamma", 0.0)
        if self.alpha is not None:
            self._check_number("alpha", 0.0, 1.0)
        self._check_flag("from_logits")

    def resolve(self) -> Loss:
        kwargs = {"gamma": self.gamma, "alpha": self.alpha}
        return _from_probabilities_or_logits(
            _bind(binary_focal_loss_of_probabilities, **kwargs), _bind(binary_focal_loss, **kwargs),
            "sigmoid", self.from_logits)


@configurable
@dataclasses.dataclass(frozen=True)
class Huber(LossObject):
    """Huber loss: squared error below `delta`, linear above, averaged over outputs.

    Args:
        delta: Where the loss turns linear (> 0). Defaults to `1.0`.
    """

    delta: float = 1.0

    def __post_init__(self):
        self._check_number("delta", 0.0, open_low=True)

    def resolve(self) -> Loss:
        return Loss(_bind(huber_loss, delta=self.delta))


_LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy().resolve(),
    "softmax_categorical_crossentropy": CategoricalCrossentropy(from_logits=True).resolve(),
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy().resolve(),
    "sparse_softmax_categorical_crossentropy":
        SparseCategoricalCrossentropy(from_logits=True).resolve(),
    "binary_crossentropy": BinaryCrossentropy(from_logits=True).resolve(),
    "weighted_crossentropy": Loss(weighted_crossentropy, logits_of="sigmoid"),
    "focal_loss": FocalLoss().resolve(),
    "binary_focal_loss": BinaryFocalLoss(from_logits=True).resolve(),
    "mean_square": Loss(mean_square),
    "hinge_loss": Loss(hinge_loss),
    "huber_loss": Huber().resolve(),
}


def _per_sample(fn: Callable) -> Callable:
    """Wraps a user loss `fn(y_pred, y_true) -> scalar` so it yields one value per sample."""

    def per_sample(y_pred, y_true):
        return jax.vmap(lambda p, t: jnp.reshape(fn(p[None], t[None]), ()))(y_pred, y_true)

    per_sample.__name__ = getattr(fn, "__name__", "custom_loss")
    return per_sample


def get(identifier: str | Callable | Loss | LossObject) -> Loss:
    """Returns the `Loss` for a name, a loss object (`CategoricalCrossentropy(...)`, ...), or
    wraps a callable `fn(y_pred, y_true) -> scalar`.

    A callable is evaluated one sample at a time (so padded samples can be masked out) and must
    return the mean loss of the samples it is given, as tflearn's custom losses do.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, LossObject):
        return identifier.resolve()
    found = lookup("loss", identifier, _LOSSES)
    return found if isinstance(found, Loss) else Loss(_per_sample(found))
