"""Built-in callbacks that watch a logged value: early stopping and model checkpoints.

Both read the epoch's numbers from `state.logs()` (`'loss'`, the metric's name such as `'acc'`,
`'val_loss'`, `'val_acc'`) and need the model, which `fit` hands them through `set_model`.
"""

from __future__ import annotations

import math
import os
import re
import string
from typing import Any

import jax
import jax.numpy as jnp

from stackit.callbacks.base import Callback, TrainingState

__all__ = ["EarlyStopping", "ModelCheckpoint", "log_keys"]

_MODES = ("auto", "min", "max")


def log_keys(state: TrainingState) -> list[str]:
    """The keys `state.logs()` can hold in this fit: `loss`, the scalar metrics, their `val_`
    twins, and `lr` when an optimizer holds a learning rate.

    The `val_` keys are left out when the state says there is no validation set.
    """
    names = list(state.metric_names) or ([state.metric_name] if state.metric_name else [])
    keys = ["loss"] + names
    if state.has_validation is not False:  # None: not known (a state built by hand)
        keys += ["val_loss"] + [f"val_{name}" for name in names]
    return keys + (["lr"] if state.learning_rates else [])


def _quoted(names) -> str:
    return ", ".join(repr(name) for name in names) or "none"


def _missing_key(owner: str, arg: str, key: str, available) -> ValueError:
    hint = (" Values named 'val_*' need a validation set: fit(..., validation_set=0.1)."
            if key.startswith("val_") and "val_loss" not in available else "")
    return ValueError(f"{owner}: {key!r} is not among the values this fit logs. Expected one of: "
                      f"{_quoted(available)}.{hint} Received: {arg}={key!r}.")


def _require_model(callback: Callback, owner: str):
    if callback.model is None:
        raise ValueError(f"{owner} needs the model it trains: fit(callbacks=[...]) gives it "
                         f"through set_model; when calling the hooks yourself, call "
                         f"{owner.lower()}.set_model(model) first.")
    return callback.model


class _Monitor:
    """Which logged value to watch, and which direction counts as an improvement."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float = 0.0):
        if not isinstance(monitor, str):
            raise TypeError(f"{owner}: monitor must be the name of a logged value such as "
                            f"'val_loss'. Received: monitor={monitor!r}.")
        if mode not in _MODES:
            raise ValueError(f"{owner}: mode must be one of {_quoted(_MODES)}. "
                             f"Received: mode={mode!r}.")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) \
                or not min_delta >= 0:
            raise ValueError(f"{owner}: min_delta must be a number >= 0. "
                             f"Received: min_delta={min_delta!r}.")
        self.owner, self.name, self.min_delta = owner, monitor, float(min_delta)
        self.mode = mode if mode != "auto" else ("min" if "loss" in monitor else "max")

    def check(self, state: TrainingState) -> None:
        """Raises if this fit can never log the monitored value."""
        if self.name not in log_keys(state):
            raise _missing_key(self.owner, "monitor", self.name, log_keys(state))

    def value(self, state: TrainingState) -> float:
        """The monitored value at the end of this epoch."""
        logs = state.logs()
        if self.name not in logs:
            raise _missing_key(self.owner, "monitor", self.name, logs)
        return float(logs[self.name])

    def improves(self, value: float, reference: float | None) -> bool:
        """Whether `value` beats `reference` by more than `min_delta` (None: anything finite)."""
        if math.isnan(value):
            return False
        if reference is None:
            return True
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta


class EarlyStopping(Callback):
    """Stops training when a monitored value has stopped improving.

    At the end of each epoch the monitored value is compared with the best so far. An epoch
    counts as progress when it beats the best by more than `min_delta` (and, with a `baseline`,
    also beats the baseline). Training stops at the end of the `patience`-th epoch in a row
    without progress (the first one when `patience` is 0 or 1, as in Keras).

    Example:
        ```python
        model.fit(X, Y, n_epoch=100, validation_set=0.1,
                  callbacks=EarlyStopping(monitor='val_loss', patience=3,
                                          restore_best_weights=True))
        ```

    Args:
        monitor: The logged value to watch: `'loss'`, the metric's name (`'acc'`),
            `'val_loss'` or `'val_<metric>'`. Defaults to `'val_loss'`.
        min_delta: Smallest change that counts as an improvement. Defaults to `0.0`.
        patience: Epochs in a row without progress before stopping. Defaults to `0`.
        mode: `'min'`, `'max'`, or `'auto'` (min for names containing `'loss'`, max
            otherwise). Defaults to `'auto'`.
        restore_best_weights: At the end of training, put back the parameters and layer state
            of the best epoch. Defaults to `False`.
        baseline: A value the monitored quantity must beat; epochs that do not beat it count
            as epochs without progress. Defaults to `None`.

    Attributes:
        best: Best monitored value of this fit. `best_epoch`: its epoch. `wait`: epochs in a
            row without progress. `stopped_epoch`: the epoch training was stopped at (0 if not).

    Raises:
        ValueError: At `on_train_begin` or the first epoch end, if `monitor` is not a value
            this fit logs (the message lists those it does).
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False,
                 baseline: float | None = None):
        self._watch = _Monitor("EarlyStopping", monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0. "
                             f"Received: patience={patience!r}.")
        self.monitor, self.mode, self.min_delta = monitor, self._watch.mode, min_delta
        self.patience, self.baseline = patience, baseline
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch = self.wait = self.stopped_epoch = 0
        self._best_weights: tuple[Any, Any] | None = None

    def on_train_begin(self, state: TrainingState) -> None:
        self._reset()
        self._watch.check(state)
        if self.restore_best_weights:
            _require_model(self, "EarlyStopping")

    def on_epoch_end(self, state: TrainingState) -> None:
        current = self._watch.value(state)
        progress = False
        if self._watch.improves(current, self.best):
            self.best, self.best_epoch = current, state.epoch
            if self.restore_best_weights:
                ts = _require_model(self, "EarlyStopping").train_state
                # Copies on the device: the live buffers are donated to the next step.
                self._best_weights = jax.tree.map(jnp.copy, (ts.params, ts.layer_state))
            progress = self.baseline is None or self._watch.improves(current, self.baseline)
        self.wait = 0 if progress else self.wait + 1
        if self.wait and self.wait >= self.patience:
            self.stopped_epoch = state.epoch
            state.stop_training = True

    def on_train_end(self, state: TrainingState) -> None:
        if self._best_weights is not None and self.model is not None:
            params, layer_state = self._best_weights
            self.model.train_state = self.model.train_state._replace(
                params=params, layer_state=layer_state)
        self._best_weights = None


class ModelCheckpoint(Callback):
    """Saves the model at the end of each epoch, or only when a monitored value improves.

    The file is written with `model.save` (atomically; `.npz` is added when missing) and loads
    back with `model.load(path)`. `filepath` may hold format fields: `{epoch}`, `{step}` and
    any logged value, e.g. `'ckpt-{epoch:02d}-{val_loss:.3f}'` writes `ckpt-03-0.412.npz`.

    Example:
        ```python
        model.fit(X, Y, n_epoch=20, validation_set=0.1,
                  callbacks=ModelCheckpoint('best', monitor='val_acc', save_best_only=True))
        model.load('best')
        ```

    Args:
        filepath: Path of the file, with optional format fields.
        monitor: The logged value `save_best_only` compares. Defaults to `'val_loss'`.
        save_best_only: Save only when the monitored value beats the best seen by this
            callback (kept across `fit` calls). Defaults to `False`.
        mode: `'min'`, `'max'`, or `'auto'` (min for names containing `'loss'`, max
            otherwise). Defaults to `'auto'`.
        save_weights_only: Save only the parameters and layer state; load such a file with
            `model.load(path, weights_only=True)`. Defaults to `False`.

    Raises:
        ValueError: If `filepath` names a field this fit does not log, or (with
            `save_best_only`) `monitor` is not a logged value.
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto",
                 save_weights_only: bool = False):
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint: filepath must be a path. "
                            f"Received: filepath={filepath!r}.")
        self.filepath = os.fspath(filepath)
        self.fields = _format_fields(self.filepath)
        self._watch = _Monitor("ModelCheckpoint", monitor, mode)
        self.monitor, self.mode = monitor, self._watch.mode
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best: float | None = None

    def on_train_begin(self, state: TrainingState) -> None:
        _require_model(self, "ModelCheckpoint")
        keys = log_keys(state)
        for field in self.fields:
            if field not in ("epoch", "step", *keys):
                raise _missing_key("ModelCheckpoint", "filepath field", field,
                                   ["epoch", "step", *keys])
        try:  # a bad format spec (`{loss:d}`) fails now, not after the first epoch
            self.filepath.format(epoch=1, step=1, **dict.fromkeys(keys, 0.0))
        except (ValueError, TypeError) as err:
            raise ValueError(f"ModelCheckpoint: filepath cannot be formatted: {err}. "
                             f"Received: filepath={self.filepath!r}.") from None
        if self.save_best_only:
            self._watch.check(state)

    def on_epoch_end(self, state: TrainingState) -> None:
        model = _require_model(self, "ModelCheckpoint")
        if self.save_best_only:
            current = self._watch.value(state)
            if not self._watch.improves(current, self.best):
                return
            self.best = current
        logs = state.logs()
        try:
            path = self.filepath.format(epoch=state.epoch, step=state.step, **logs)
        except KeyError as err:
            raise _missing_key("ModelCheckpoint", "filepath field", err.args[0],
                               ["epoch", "step", *logs]) from None
        model.save(path, weights_only=self.save_weights_only)


def _format_fields(filepath: str) -> list[str]:
    """The names of the format fields in `filepath` (`{val_loss:.3f}` → `val_loss`)."""
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as err:
        raise ValueError(f"ModelCheckpoint: filepath is not a valid format string: {err}. "
                         f"Received: filepath={filepath!r}.") from None
    fields = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        name = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not name or name.isdigit():
            raise ValueError(f"ModelCheckpoint: filepath fields must be named, e.g. {{epoch}} "
                             f"or {{val_loss:.3f}}. Received: filepath={filepath!r}.")
        fields.append(name)
    return fields
