"""Training progress: a rich live bar on a terminal, one plain line per epoch elsewhere."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from stackit.callbacks.base import Callback, TrainingState
from stackit.distributed import is_main_process

__all__ = ["ProgressBar", "PlainLogger", "default_progress"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


#: Per-class values are shown up to this many classes.
_MAX_SHOWN_CLASSES = 10


def _shown(value) -> str | None:
    """A metric's text: `0.9650`, `[0.912 0.850 0.771]` for a short per-class vector; None
    for what does not fit a line (a confusion matrix, many classes)."""
    if isinstance(value, (int, float)):
        return _fmt(value)
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) == 1 and shape[0] <= _MAX_SHOWN_CLASSES:
        return "[" + " ".join(f"{v:.3f}" for v in value) + "]"
    return None


def _metric_parts(state: TrainingState, prefix: str = "") -> list[str]:
    """`['acc 0.9650', 'top3 0.9990']` (or with `val_`): the metrics of the first estimator
    with any, those that fit a line."""
    values = dict(state.val_metrics if prefix else state.metrics)
    if state.metric_name:  # acc_value / val_acc are its values (a callback may set them)
        values[state.metric_name] = state.val_acc if prefix else state.acc_value
    parts = []
    for name, value in values.items():
        text = _shown(value) if value is not None else None
        if text is not None:
            parts.append(f"{prefix}{name} {text}")
    return parts


def _rate(state: TrainingState) -> str:
    return "-" if state.samples_per_sec is None else f"{state.samples_per_sec:,.0f}"


def _lr(rate: float) -> str:
    """`lr 0.001`: the learning rate of the next step (the first estimator's)."""
    return f"lr {rate:.3g}"


def _each_loss(state: TrainingState) -> str:
    """` (gen 0.69 + disc 1.38)`: each estimator's loss, when there are several."""
    if len(state.heads) < 2:
        return ""
    return " (" + " + ".join(f"{name} {_fmt(values.get('loss'))}"
                             for name, values in state.heads.items()) + ")"


def epoch_summary(state: TrainingState) -> str:
    """`Epoch 3/10 | step 1407 | loss 0.1234 | acc 0.9650 | val_loss ... | lr 0.001 |
    12,345 samples/s | 4.2s`; with several estimators the loss is their sum, each one's in
    parentheses."""
    parts = [f"Epoch {state.epoch}/{state.last_epoch}", f"step {state.step}",
             f"loss {_fmt(state.loss_value)}{_each_loss(state)}"]
    if state.show_metric:
        parts += _metric_parts(state)
    if state.val_loss is not None:
        parts.append(f"val_loss {_fmt(state.val_loss)}")
        parts += _metric_parts(state, "val_")
    if state.learning_rate is not None:
        parts.append(_lr(state.learning_rate))
    parts.append(f"{_rate(state)} samples/s")
    parts.append(f"{state.elapsed:.1f}s")
    return " | ".join(parts)


class PlainLogger(Callback):
    """Prints one line per epoch to `stream` (for logs, CI and pipes)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def on_epoch_end(self, state: TrainingState) -> None:
        print(epoch_summary(state), file=self.stream or sys.stdout, flush=True)


class ProgressBar(Callback):
    """A rich live display: a bar per epoch with loss, metric, validation, samples/s and ETA."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def _stats(self, state: TrainingState) -> str:
        text = f"loss {_fmt(state.loss_value)}{_each_loss(state)}"
        if state.show_metric:
            text += "".join(f" {part}" for part in _metric_parts(state))
        if state.val_loss is not None:
            text += f" | val_loss {_fmt(state.val_loss)}"
            text += "".join(f" {part}" for part in _metric_parts(state, "val_"))
        if state.learning_rate is not None:
            text += f" | {_lr(state.learning_rate)}"
        return text + f" | {_rate(state)} samples/s"

    def on_train_begin(self, state: TrainingState) -> None:
        self.progress = Progress(
            TextColumn("[bold]Epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=self.console, transient=False)
        self.progress.start()

    def _live(self) -> Progress:
        assert self.progress is not None  # started by on_train_begin
        return self.progress

    def _update(self, completed: int, state: TrainingState) -> None:
        assert self.task is not None  # added by on_epoch_begin
        self._live().update(self.task, completed=completed, stats=self._stats(state))

    def on_epoch_begin(self, state: TrainingState) -> None:
        self.task = self._live().add_task(
            "train", total=state.steps_per_epoch, epoch=f"{state.epoch}/{state.last_epoch}",
            stats="compiling…" if state.epoch == state.start_epoch + 1 else "")

    def on_batch_end(self, state: TrainingState) -> None:
        self._update(state.step_in_epoch, state)

    def on_epoch_end(self, state: TrainingState) -> None:
        self._update(state.steps_per_epoch, state)

    def on_train_end(self, state: TrainingState) -> None:
        if self.progress is not None:
            self.progress.stop()


def default_progress(verbose: int) -> Callback | None:
    """The display for `fit(verbose=...)`: 0 silent, 1 live bar on a terminal (plain lines
    otherwise), 2 plain lines. With several processes only the main one shows progress."""
    if verbose == 0 or not is_main_process():
        return None
    if verbose == 1 and sys.stdout.isatty():
        return ProgressBar()
    return PlainLogger()
