"""`LearningRateScheduler`: a function of the epoch sets the learning rate at each epoch's start."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from stackit.callbacks.base import Callback, TrainingState
from stackit.distributed import is_main_process
from stackit.learning_rate import checked

__all__ = ["LearningRateScheduler", "require_learning_rate"]


def require_learning_rate(owner: str, state: TrainingState) -> None:
    """Refuses a fit whose optimizers hold no learning rate, before any training."""
    if not state.learning_rates:
        raise ValueError(f"{owner}: no estimator's optimizer holds a learning rate it could "
                         f"change (an optax transformation used as given). Use a stackit "
                         f"optimizer (e.g. regression(..., optimizer=stackit.Adam(1e-3))) or "
                         f"build it with optax.inject_hyperparams(optax.adam)(learning_rate=...).")


def _takes_lr(fn: Callable) -> bool:
    """Whether `fn` takes `(epoch, lr)` rather than `(epoch)` (Keras accepts both)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume Keras's form
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to `schedule(epoch, lr)`, as Keras.

    `epoch` counts from 0 over the model's life (`state.epoch - 1`, so a second `fit` goes on
    where the first stopped) and `lr` is the current learning rate; a `schedule(epoch)` of one
    argument works too. The rate is written into the optimizer state: nothing recompiles and
    the optimizer's moments are kept. With several estimators, each one's rate is set to
    `schedule(epoch, its lr)`. On an optimizer with a schedule of its own, the set rate scales
    the rest of that schedule (see `TrainingState.set_learning_rate`). An epoch resumed from a
    mid-epoch snapshot keeps the rate the snapshot holds (set when that epoch began), so a
    resumed run stays bitwise the same.

    Example:
        ```python
        def schedule(epoch, lr):
            return lr if epoch < 10 else lr * 0.9

        model.fit(X, Y, n_epoch=30, callbacks=LearningRateScheduler(schedule))
        ```

    Args:
        schedule: `fn(epoch, lr) -> new lr` (or `fn(epoch) -> new lr`).
        verbose: 1 prints each rate set. Defaults to `0`.

    Raises:
        TypeError: If `schedule` is not callable, or returns something that is not a number.
        ValueError: At `on_train_begin` if no optimizer holds a learning rate; at an epoch's
            start if the schedule returns a negative or non-finite rate.
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a function "
                            f"fn(epoch, lr) -> lr. Received: schedule={schedule!r}.")
        self.schedule, self.verbose = schedule, verbose
        self._with_lr = _takes_lr(schedule)

    def on_train_begin(self, state: TrainingState) -> None:
        require_learning_rate("LearningRateScheduler", state)

    def on_epoch_begin(self, state: TrainingState) -> None:
        if state.step_in_epoch:  # a resumed epoch: its rate was set when it began, and restored
            return
        epoch = state.epoch - 1
        for head, lr in dict(state.learning_rates).items():
            value = self.schedule(epoch, lr) if self._with_lr else self.schedule(epoch)
            new = _checked_rate(value, epoch, lr)
            state.set_learning_rate(new, head)
            if self.verbose and is_main_process():
                who = f" ({head})" if len(state.learning_rates) > 1 else ""
                print(f"Epoch {state.epoch}: LearningRateScheduler setting learning rate{who} "
                      f"to {new:.6g}.", flush=True)


def _checked_rate(value, epoch: int, lr: float) -> float:
    try:
        return checked(value, "LearningRateScheduler")
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} (returned by schedule({epoch}, {lr!r}))") from None
