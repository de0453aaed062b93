"""`ReduceLROnPlateau`: lowers the learning rate when a monitored value stops improving."""

from __future__ import annotations

import numbers

import numpy as np

from stackit.callbacks.base import Callback, TrainingState
from stackit.callbacks.builtin import _Monitor
from stackit.callbacks.lr_scheduler import require_learning_rate
from stackit.distributed import is_main_process

__all__ = ["ReduceLROnPlateau"]


def _count(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0. Received: {name}={value!r}.")
    return value


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when a monitored value has not improved for
    `patience` epochs, as Keras.

    At each epoch end: during a cooldown, its counter goes down by one and the epochs without
    progress are not counted. An epoch counts as progress when its value beats the best so far
    by more than `min_delta`. Otherwise, outside a cooldown, it counts one more epoch without
    progress; at the `patience`-th in a row (the first one when `patience` is 0 or 1), each
    estimator whose rate is above `min_lr` gets `max(lr * factor, min_lr)`, then a cooldown of
    `cooldown` epochs starts and the count restarts. The rate is written into the optimizer
    state: nothing recompiles and the optimizer's moments are kept; `state.learning_rate`, the
    progress line and the `lr` of the next epochs show it. On an optimizer with a schedule,
    the reduction scales the rest of the schedule (`min_lr` is checked when reducing only).

    Example:
        ```python
        model.fit(X, Y, n_epoch=100, validation_set=0.1,
                  callbacks=ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=3))
        ```

    Args:
        monitor: The logged value to watch (`'loss'`, `'acc'`, `'val_loss'`, ...). Defaults to
            `'val_loss'`.
        factor: Multiplier of the rate at each reduction, in `[0, 1)`. Defaults to `0.1`.
        patience: Epochs in a row without progress before a reduction. Defaults to `10`.
        min_delta: Smallest change that counts as progress. Defaults to `1e-4`.
        cooldown: Epochs after a reduction during which no progress is counted. Defaults to
            `0`.
        min_lr: The rate never goes below this. Defaults to `0.0`.
        mode: `'min'`, `'max'`, or `'auto'` (min for names containing `'loss'`, max otherwise,
            as `EarlyStopping`). Defaults to `'auto'`.
        verbose: 1 prints each reduction. Defaults to `0`.

    Attributes:
        best: Best monitored value of this fit. `wait`: epochs in a row without progress.
        `cooldown_counter`: epochs of cooldown left.

    Raises:
        ValueError: For arguments out of range; at `on_train_begin`, if `monitor` is not a
            value this fit logs or no optimizer holds a learning rate.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, *,
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 mode: str = "auto", verbose: int = 0):
        owner = "ReduceLROnPlateau"
        self._watch = _Monitor(owner, monitor, mode, min_delta)
        for name, value, ok, wanted in (("factor", factor, lambda v: 0 <= v < 1, "in [0, 1)"),
                                        ("min_lr", min_lr, lambda v: v >= 0, ">= 0")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not ok(value):
                raise ValueError(f"{owner}: {name} must be a number {wanted}. "
                                 f"Received: {name}={value!r}.")
        self.patience = _count(owner, "patience", patience)
        self.cooldown = _count(owner, "cooldown", cooldown)
        self.monitor, self.mode, self.min_delta = monitor, self._watch.mode, float(min_delta)
        self.factor, self.min_lr, self.verbose = float(factor), float(min_lr), verbose
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.wait = self.cooldown_counter = 0

    def on_train_begin(self, state: TrainingState) -> None:
        self._reset()
        self._watch.check(state)
        require_learning_rate("ReduceLROnPlateau", state)

    def on_epoch_end(self, state: TrainingState) -> None:
        current = self._watch.value(state)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._watch.improves(current, self.best):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        floor = float(np.float32(self.min_lr))  # rates are float32: 1e-4 is stored a bit below
        reduced = False
        for head, lr in dict(state.learning_rates).items():
            if lr > floor:
                new = max(lr * self.factor, self.min_lr)
                state.set_learning_rate(new, head)
                reduced = True
                if self.verbose and is_main_process():
                    who = f" ({head})" if len(state.learning_rates) > 1 else ""
                    print(f"Epoch {state.epoch}: ReduceLROnPlateau reducing learning rate{who} "
                          f"to {new:.6g}.", flush=True)
        if reduced:
            self.cooldown_counter, self.wait = self.cooldown, 0
