"""The callback protocol: hooks that see the training state and may stop training."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from stackit.learning_rate import checked

__all__ = ["Callback", "TrainingState"]


@dataclasses.dataclass
class TrainingState:
    """What callbacks see, with tflearn's attribute names.

    Attributes:
        epoch: Current epoch, counted over the model's life (a second `fit` goes on from the
            first), starting at 1.
        start_epoch: Epochs the model had completed before this `fit`.
        step: Optimizer steps taken so far.
        n_epoch: Epochs requested by this `fit`.
        steps_per_epoch: Steps in one epoch.
        n_samples: Training samples seen per epoch.
        loss_value: Mean training loss of the epoch so far.
        acc_value: Training metric of the epoch so far (None without a metric).
        val_loss: Validation loss of the last validation (None before it).
        val_acc: Validation metric of the last validation.
        metric_name: Short name of the metric (e.g. `'acc'`): the first scalar metric of the
            first estimator with metrics, whose values are `acc_value` and `val_acc`.
        metric_names: Names of that estimator's scalar metrics (e.g. `('acc', 'top3')`), the
            metric keys `logs()` can hold (and callbacks may monitor).
        metrics: `{name: value}` of all that estimator's metrics, for the epoch so far (a
            numpy array for a per-class metric or a confusion matrix).
        val_metrics: The same for the last validation.
        has_validation: Whether this `fit` validates (so `val_*` values will be logged).
        samples_per_sec: Training throughput of the epoch so far (None while only the
            compiling first chunk of a `fit` has run).
        elapsed: Seconds since the epoch began.
        stop_training: Set to True to stop at the next refresh.
        heads: Per estimator, `{'loss': ..., metric name: ...}` of the epoch so far (with
            several estimators, `loss_value` is their sum).
        val_heads: The same for the last validation.
        snapshot_due: True during the hook at which a snapshot is due (`snapshot_step`,
            `snapshot_epoch`); the `Snapshots` callback writes it then.
        interrupted: True during the last `on_batch_end` after Ctrl-C (training then stops
            with KeyboardInterrupt).
        learning_rates: Per estimator, the learning rate of its next step, read from its
            optimizer state at each refresh (estimators whose optimizer holds none, an optax
            transformation used as given, are left out). `learning_rate` is the first one.
        lr_writer: Set by `fit`: `lr_writer(lr, names)` writes a learning rate into the
            training state; `set_learning_rate` calls it. None outside `fit`.
        gradients: Filled at each refresh when a callback sets `gradient_summaries`: per
            estimator, `norms` (each parameter's root-mean-square gradient norm over the steps
            since the last refresh, before clipping; a tree like the parameters),
            `global_norm` (the same over all parameters) and `last` (the gradients of the
            last step, on the device). Empty otherwise.
    """

    n_epoch: int
    steps_per_epoch: int
    n_samples: int
    batch_size: int
    show_metric: bool = False
    metric_name: str | None = None
    metric_names: tuple[str, ...] = ()
    run_id: str | None = None
    has_validation: bool | None = None
    start_epoch: int = 0
    epoch: int = 0
    step: int = 0
    step_in_epoch: int = 0
    loss_value: float | None = None
    acc_value: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    samples_per_sec: float | None = None
    elapsed: float = 0.0
    stop_training: bool = False
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    heads: dict[str, dict[str, float | None]] = dataclasses.field(default_factory=dict)
    val_heads: dict[str, dict[str, float | None]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    val_metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    snapshot_due: bool = False
    interrupted: bool = False
    learning_rates: dict[str, float] = dataclasses.field(default_factory=dict)
    lr_writer: Callable[[float, list[str]], None] | None = dataclasses.field(
        default=None, repr=False, compare=False)
    gradients: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def last_epoch(self) -> int:
        """The epoch this `fit` ends at: `start_epoch + n_epoch`."""
        return self.start_epoch + self.n_epoch

    @property
    def global_loss(self) -> float | None:
        return self.loss_value

    @property
    def global_acc(self) -> float | None:
        return self.acc_value

    @property
    def learning_rate(self) -> float | None:
        """The learning rate of the next step (the first estimator's), or None."""
        return next(iter(self.learning_rates.values()), None)

    def set_learning_rate(self, lr: float, head: str | None = None) -> None:
        """Sets the learning rate of the next steps, in the optimizer state: nothing
        recompiles and the optimizer's moments are kept. With a schedule, the rate at this
        step becomes `lr` and the rest of the schedule is scaled by the same factor.

        Args:
            lr: The new learning rate (a number >= 0).
            head: The estimator's name; None sets every estimator's. Defaults to `None`.

        Raises:
            TypeError: If `lr` is not a number.
            ValueError: If `lr` is negative or not finite, `head` is unknown, or no optimizer
                holds a learning rate.
            RuntimeError: Outside `fit` (use `model.set_learning_rate` there).
        """
        lr = checked(lr, "set_learning_rate")
        if self.lr_writer is None:
            raise RuntimeError("set_learning_rate changes the learning rate during fit (from a "
                               "callback); outside fit, call model.set_learning_rate(lr).")
        if not self.learning_rates:
            raise ValueError("set_learning_rate: no estimator's optimizer holds a learning "
                             "rate (an optax transformation used as given). Use a stackit "
                             "optimizer, e.g. regression(..., optimizer=stackit.Adam(1e-3)).")
        if head is not None and head not in self.learning_rates:
            raise ValueError(f"set_learning_rate: unknown estimator {head!r}. Expected one of: "
                             f"{', '.join(map(repr, self.learning_rates))}. Received: "
                             f"head={head!r}.")
        self.lr_writer(lr, list(self.learning_rates) if head is None else [head])

    def logs(self) -> dict[str, Any]:
        """The epoch's numbers as a Keras-style dict (`loss`, each metric such as `acc`,
        `val_loss`, `val_acc`, ..., `lr`)."""
        name = self.metric_name or "acc"
        # acc_value / val_acc stay the values of `metric_name` (a callback may set them)
        train = {**self.metrics, name: self.acc_value}
        val = {**self.val_metrics, name: self.val_acc}
        logs = {"loss": self.loss_value, **train, "val_loss": self.val_loss,
                **{f"val_{key}": value for key, value in val.items()},
                "lr": self.learning_rate}
        if len(self.heads) > 1:  # several estimators: each one's numbers too, Keras-style
            for prefix, heads in (("", self.heads), ("val_", self.val_heads)):
                for head, values in heads.items():
                    for key, value in values.items():
                        logs[f"{prefix}{head}_{key}"] = value
            for head, rate in self.learning_rates.items():
                logs[f"{head}_lr"] = rate
        return {k: v for k, v in logs.items() if v is not None}


class Callback:
    """Base class for callbacks passed to `fit(..., callbacks=[...])`.

    Every hook receives the `TrainingState`. `on_batch_end` runs at display-refresh granularity
    (steps run in fused chunks on the device). Set `state.stop_training = True`, or raise
    `StopIteration` (tflearn's way), to end training early. `self.model` is the model being
    trained, set through `set_model` before `on_train_begin`.
    """

    model: Any = None
    #: Set True to have `fit` gather gradient statistics into `state.gradients` (costs a pass
    #: over the gradients each step and a copy of the last ones).
    gradient_summaries: bool = False

    def set_model(self, model: Any) -> None:
        """Gives the callback the model it trains; `fit` calls this before `on_train_begin`.

        Args:
            model: The `DNN` being trained.
        """
        self.model = model

    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_epoch_begin(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState) -> None: ...

    def on_epoch_end(self, state: TrainingState) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...
