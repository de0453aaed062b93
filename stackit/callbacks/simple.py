"""Built-in callbacks that need no model: a CSV log of each epoch, and plain functions as hooks."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from stackit.callbacks.base import Callback, TrainingState
from stackit.distributed import is_main_process

__all__ = ["CSVLogger", "LambdaCallback"]

_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class CSVLogger(Callback):
    """Writes one CSV row per epoch: the epoch number, then the epoch's logged values.

    The columns are `epoch` (counted over the model's life, as in `History.epoch`) followed by
    the keys of `state.logs()`, e.g. `epoch,loss,acc,val_loss,val_acc` (a per-class metric
    or a confusion matrix is written as a JSON list). The header is written once; each row
    is flushed as soon as its epoch ends. The file is opened at the first epoch end, so a fit
    that fails before then leaves an earlier file untouched.

    Example:
        ```python
        model.fit(X, Y, n_epoch=10, validation_set=0.1, callbacks=CSVLogger('training.csv'))
        ```

    Args:
        filename: Path of the CSV file (its folder is created when missing).
        separator: Column separator. Defaults to `','`.
        append: Add to an existing file (reusing its header) instead of overwriting it.
            Defaults to `False`.
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"CSVLogger: filename must be a path. Received: filename={filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be a single character. "
                             f"Received: separator={separator!r}.")
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter | None = None

    def on_train_begin(self, state: TrainingState) -> None:
        self._close()

    def _open(self, columns: list[str]) -> csv.DictWriter:
        header = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle, delimiter=self.separator), None)
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self._file = open(self.filename, "a" if self.append else "w",
                          newline="", encoding="utf-8")
        writer = csv.DictWriter(self._file, header or columns, delimiter=self.separator,
                                restval="", extrasaction="ignore")
        if not header:
            writer.writeheader()
        return writer

    def on_epoch_end(self, state: TrainingState) -> None:
        if not is_main_process():  # several processes: one file, from the main one
            return
        row = {"epoch": state.epoch, **{k: _cell(v) for k, v in state.logs().items()}}
        if self._writer is None:
            self._writer = self._open(list(row))
        self._writer.writerow(row)
        assert self._file is not None  # opened by _open together with the writer
        self._file.flush()

    def on_train_end(self, state: TrainingState) -> None:
        self._close()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None


def _cell(value: Any) -> Any:
    """A CSV cell: numbers as they are, an array (a per-class metric, a confusion matrix) as
    a JSON list on one line, e.g. `[[12, 3], [4, 9]]`."""
    if isinstance(value, np.ndarray):
        return json.dumps(value.tolist())
    return value


class LambdaCallback(Callback):
    """A callback made of plain functions, each called as `f(state)`.

    Example:
        ```python
        losses = []
        log = LambdaCallback(on_epoch_end=lambda state: losses.append(state.loss_value))
        model.fit(X, Y, n_epoch=5, callbacks=log)
        ```

    Args:
        on_train_begin: Called once before the first epoch. Defaults to `None`.
        on_epoch_begin: Called at the start of each epoch. Defaults to `None`.
        on_batch_end: Called at each display refresh. Defaults to `None`.
        on_epoch_end: Called after each epoch. Defaults to `None`.
        on_train_end: Called once at the end. Defaults to `None`.

    Raises:
        TypeError: If a hook is given something that is not callable.
    """

    def __init__(self, *, on_train_begin: Callable | None = None,
                 on_epoch_begin: Callable | None = None, on_batch_end: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_end: Callable | None = None):
        given = dict(zip(_HOOKS, (on_train_begin, on_epoch_begin, on_batch_end, on_epoch_end,
                                  on_train_end), strict=True))
        for hook, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {hook} must be a function f(state). "
                                f"Received: {hook}={fn!r}.")
            setattr(self, hook, fn)  # an instance attribute: called as fn(state)
