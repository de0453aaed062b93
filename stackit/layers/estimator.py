"""The estimator layer: `regression(...)` declares what to minimize and how."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from stackit import losses, metrics, optimizers
from stackit.layers.base import Layer, Tensor

__all__ = ["Regression", "regression"]


@dataclasses.dataclass(frozen=True)
class Regression(Layer):
    """Marks the network's output as trained against targets Y. Identity on the forward pass.

    Args:
        optimizer: Name (`'adam'`, `'sgd'`, ...), an `Optimizer` (e.g. `stackit.SGD(0.1)`), or an
            optax transformation. Defaults to `'adam'`.
        loss: Loss name or callable `fn(y_pred, y_true)`. Defaults to
            `'categorical_crossentropy'`.
        metric: `'default'` (accuracy), a name, a `Metric` (e.g. `Top_k(3)`), a callable, or
            None. Defaults to `'default'`.
        learning_rate: Used when `optimizer` is a name. Defaults to `0.001`.
        batch_size: Training batch size. Defaults to `64`.
        shuffle_batches: Shuffle the training set each epoch. Defaults to `True`.
        to_one_hot: Convert integer targets to one-hot with `n_classes`. Defaults to `False`.
        n_classes: Class count for `to_one_hot`. Defaults to `None`.
        validation_batch_size: Batch size for validation. Defaults to `batch_size`.
    """

    optimizer: object = "adam"
    loss: str | Callable = "categorical_crossentropy"
    metric: str | metrics.Metric | Callable | None = "default"
    learning_rate: float = 0.001
    batch_size: int = 64
    shuffle_batches: bool = True
    to_one_hot: bool = False
    n_classes: int | None = None
    validation_batch_size: int | None = None
    default_name = "Regression"
    fn_name = "regression"

    def check(self):
        optimizers.get(self.optimizer, self.learning_rate)
        losses.get(self.loss)
        metrics.get(self.metric)
        for arg in ("batch_size", "validation_batch_size"):
            value = getattr(self, arg)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise self.error(f"{arg} must be a positive int.", **{arg: value})
        if self.to_one_hot and (not isinstance(self.n_classes, int) or self.n_classes < 2):
            raise self.error("to_one_hot=True needs n_classes (an int >= 2).",
                             n_classes=self.n_classes)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return x, state


def regression(incoming: Tensor, placeholder="default", optimizer="adam",
               loss="categorical_crossentropy", metric="default", learning_rate=0.001,
               dtype="float32", batch_size=64, shuffle_batches=True, to_one_hot=False,
               n_classes=None, trainable_vars=None, restore=True, op_name=None,
               validation_monitors=None, validation_batch_size=None,
               name: str | None = None) -> Tensor:
    """Adds the estimator: what `DNN.fit` minimizes (loss), with which optimizer, and the metric.

    `name` is the key for targets when `fit` receives dicts: `fit({'input': X}, {name: Y})`.
    See `Regression` for the arguments.
    """
    del dtype, restore, op_name
    for arg, value, default in (("placeholder", placeholder, "default"),
                                ("trainable_vars", trainable_vars, None),
                                ("validation_monitors", validation_monitors, None)):
        if value is not default:
            raise ValueError(f"regression: {arg} is not supported by stackit. "
                             f"Received: {arg}={value!r}.")
    return Regression(optimizer, loss, metric, learning_rate, batch_size, shuffle_batches,
                      to_one_hot, n_classes, validation_batch_size, name=name)(incoming)
