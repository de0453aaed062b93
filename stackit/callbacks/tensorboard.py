"""`TensorBoard`: event files of the logged values and weight histograms, through tensorboardX.

tensorboardX is an optional dependency (`pip install 'stackit[tensorboard]'`); without it the
callback warns once per process and training goes on without logs.
"""

from __future__ import annotations

import os
import secrets
import string
import tempfile
import time
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from stackit.callbacks.base import Callback, TrainingState
from stackit.distributed import is_main_process

__all__ = ["TensorBoard", "default_log_dir", "run_name", "model_tensorboard"]

#: Equal-width buckets of each weight histogram.
BINS = 30
#: Mid-epoch histograms are skipped while they would take more than this share of the time.
HISTOGRAM_SHARE = 0.05
_UPDATE_FREQS = ("refresh", "batch", "epoch")
_MISSING = ("TensorBoard logs need tensorboardX, which is not installed: pip install "
            "'stackit[tensorboard]'. Training goes on without TensorBoard logs.")
_warned_missing = False


def default_log_dir() -> str:
    """`<temp dir>/stackit_logs`: where `DNN(tensorboard_verbose=...)` writes without a
    `tensorboard_dir` (tflearn's was `/tmp/tflearn_logs/`)."""
    return os.path.join(tempfile.gettempdir(), "stackit_logs")


def run_name() -> str:
    """A random run id of 6 capitals and digits, as tflearn made for `fit(run_id=None)`."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def model_tensorboard(tensorboard_verbose: int | None,
                      tensorboard_dir: str | os.PathLike | None) -> TensorBoard | None:
    """The `TensorBoard` that `DNN(tensorboard_verbose=..., tensorboard_dir=...)` adds to each
    `fit`, writing into `<tensorboard_dir>/<run_id>`; None when both are None (no logs).

    Raises:
        ValueError: If `tensorboard_verbose` is not an int from 0 to 3.
        TypeError: If `tensorboard_dir` is not a path.
    """
    if tensorboard_verbose is None and tensorboard_dir is None:
        return None
    verbose = 0 if tensorboard_verbose is None else tensorboard_verbose
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)) \
            or not 0 <= verbose <= 3:
        raise ValueError(f"tensorboard_verbose must be an int from 0 to 3 (0: loss, metric, "
                         f"validation and learning rate; 2: also weight histograms). "
                         f"Received: tensorboard_verbose={tensorboard_verbose!r}.")
    if tensorboard_dir is not None and not isinstance(tensorboard_dir, (str, os.PathLike)):
        raise TypeError(f"tensorboard_dir must be a path. "
                        f"Received: tensorboard_dir={tensorboard_dir!r}.")
    return TensorBoard(default_log_dir() if tensorboard_dir is None else tensorboard_dir,
                       int(verbose), run_folder=True)


def _summary_writer() -> Any:
    """tensorboardX's `SummaryWriter` class, or None (warning once) when it is missing."""
    global _warned_missing
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        if not _warned_missing:
            _warned_missing = True
            warnings.warn(_MISSING, UserWarning, stacklevel=2)
        return None
    return SummaryWriter


@jax.jit
def _histogram_stats(tree):
    """Per array, on the device: min, max, sum, sum of squares and `BINS` bucket counts."""

    def one(x):
        x = jnp.ravel(x).astype(jnp.float32)
        lo, hi = jnp.min(x), jnp.max(x)
        width = jnp.where(hi > lo, (hi - lo) / BINS, 1.0)
        idx = jnp.clip(jnp.floor((x - lo) / width).astype(jnp.int32), 0, BINS - 1)
        return lo, hi, jnp.sum(x), jnp.sum(x * x), jnp.bincount(idx, length=BINS)

    return jax.tree.map(one, tree)


class TensorBoard(Callback):
    """Writes TensorBoard event files: the logged values and, on request, weight histograms.

    The layout is Keras's: `<log_dir>/train` holds `epoch_<key>` for each key of the
    `History` (`epoch_loss`, `epoch_acc`, `epoch_lr`, ...; x axis: the epoch) and, with
    `update_freq='refresh'`, `batch_loss`, `batch_<metric>`, `batch_lr` at each display refresh
    (the epoch's running mean, as the progress display shows it; x axis: the step).
    `<log_dir>/validation` holds the `val_*` values under the same `epoch_*` tags, so
    TensorBoard draws training and validation on one chart. Histograms of every parameter
    (`<layer>/<param>`, e.g. `FullyConnected/W`; x axis: the step) go to `train`; they are
    computed on the device and only their buckets are copied to the host.

    `verbose` follows tflearn's `tensorboard_verbose`, as far as stackit can honestly follow it:

    | verbose | writes |
    |---|---|
    | 0 | loss, metric, validation loss and metric, learning rate |
    | 1 | the same, plus gradients: per estimator a global norm, per parameter a norm, a histogram |
    | 2, 3 | the same, plus a histogram of every parameter |

    Gradients are taken before clipping. A gradient norm is the root mean square of the
    parameter's gradient norm over the steps since the last update (`gradient_global_norm`,
    `<layer>/<param>/gradient_norm`; prefixed by the estimator's name when there are several);
    a gradient histogram (`<layer>/<param>/gradient`) is that of the last step's gradient.
    Gathering them costs a pass over the gradients per step, so levels 1 to 3 train a little
    slower than 0.

    A per-class metric (an array) is written as one scalar per class (`epoch_recall/0`, ...);
    a confusion matrix is not written.

    Mid-epoch histograms are skipped while writing them would take more than 5% of the time
    (a large model on a CPU gets them less often than every refresh); epoch ends always get
    them.

    tflearn's activation histograms and sparsity (level 3) are not written: activations exist
    only inside the compiled training steps, and bringing them out would cost a forward pass
    kept for the host at every step.

    Example:
        ```python
        model.fit(X, Y, n_epoch=10, validation_set=0.1,
                  callbacks=TensorBoard('logs/run1', histogram_freq=1))
        # then: tensorboard --logdir logs
        ```

    Args:
        log_dir: Folder of the event files (created when missing). Defaults to `'logs'`.
        verbose: tflearn's level, 0 to 3 (see above). Defaults to `0`.
        histogram_freq: Keras's option: also write weight histograms at the end of every
            this-many epochs; 0 writes none (unless `verbose` >= 2). Defaults to `0`.
        update_freq: `'refresh'` (or Keras's `'batch'`) also writes the training values and
            `verbose` >= 2 histograms at each display refresh (at most every 0.5 s, see
            docs/training.md); `'epoch'` writes at epoch ends only. Defaults to `'refresh'`.
        run_folder: Write each `fit` into `<log_dir>/<run_id>` (a random 6-character id when
            `fit` has no `run_id`), as `DNN(tensorboard_dir=...)` does. Defaults to `False`.

    Attributes:
        run_dir: The folder the current (or last) `fit` writes into; None before the first.

    Raises:
        ValueError: For a `verbose`, `histogram_freq` or `update_freq` out of range.
        TypeError: If `log_dir` is not a path.
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", verbose: int = 0,
                 histogram_freq: int = 0, update_freq: str = "refresh", *,
                 run_folder: bool = False):
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"TensorBoard: log_dir must be a path. Received: log_dir={log_dir!r}.")
        for name, value, top in (("verbose", verbose, 3), ("histogram_freq", histogram_freq, None)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0 \
                    or (top is not None and value > top):
                wanted = f"an int from 0 to {top}" if top is not None else "an int >= 0"
                raise ValueError(f"TensorBoard: {name} must be {wanted}. "
                                 f"Received: {name}={value!r}.")
        if update_freq not in _UPDATE_FREQS:
            raise ValueError(f"TensorBoard: update_freq must be one of "
                             f"{', '.join(map(repr, _UPDATE_FREQS))}. "
                             f"Received: update_freq={update_freq!r}.")
        self.log_dir, self.verbose = os.fspath(log_dir), int(verbose)
        self.gradient_summaries = self.verbose >= 1
        self.histogram_freq, self.run_folder = int(histogram_freq), run_folder
        self.update_freq = "epoch" if update_freq == "epoch" else "refresh"
        self.run_dir: str | None = None
        self._writers: dict[str, Any] = {}
        self._writer_class: Any = None
        self._histogram_step = {"weights": -1, "gradients": -1}
        self._histogram_seconds = self._histogram_done = 0.0

    # -- writers -------------------------------------------------------------------------------
    def _writer(self, name: str) -> Any:
        """The writer of `<run_dir>/<name>`, opened on first use."""
        if name not in self._writers:
            assert self.run_dir is not None  # set by on_train_begin
            self._writers[name] = self._writer_class(os.path.join(self.run_dir, name))
        return self._writers[name]

    def _close(self) -> None:
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()

    # -- hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, state: TrainingState) -> None:
        self._close()
        # with several processes only the main one writes (the values are the same in all)
        self._writer_class = _summary_writer() if is_main_process() else None
        self.run_dir, self._histogram_seconds = None, 0.0
        self._histogram_step = {"weights": -1, "gradients": -1}
        if self._writer_class is None:
            return
        self.run_dir = self.log_dir
        if self.run_folder:
            self.run_dir = os.path.join(self.log_dir, state.run_id or run_name())
        self._writer("train")  # the folder appears at once, for `tensorboard --logdir`

    def on_batch_end(self, state: TrainingState) -> None:
        if self._writer_class is None or self.update_freq != "refresh":
            return
        train = self._writer("train")
        for key, value in state.logs().items():  # validation values go in at epoch ends
            if not key.startswith("val_"):
                for tag, number in _scalars(f"batch_{key}", value):
                    train.add_scalar(tag, number, state.step)
        self._write_gradient_norms(state)
        if self.verbose >= 1 and time.perf_counter() - self._histogram_done >= \
                self._histogram_seconds / HISTOGRAM_SHARE:
            self._write_histograms(state, weights=self.verbose >= 2)

    def on_epoch_end(self, state: TrainingState) -> None:
        if self._writer_class is None:
            return
        done = state.epoch - state.start_epoch  # epochs of this fit, so entries per key
        for key, values in state.history.items():
            if len(values) != done:  # a value this epoch did not log
                continue
            run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            for tag, number in _scalars(f"epoch_{name}", values[-1]):
                self._writer(run).add_scalar(tag, number, state.epoch)
        if self.update_freq != "refresh":
            self._write_gradient_norms(state)
        self._write_histograms(state, weights=self.verbose >= 2 or bool(
            self.histogram_freq and state.epoch % self.histogram_freq == 0))
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, state: TrainingState) -> None:
        self._close()

    # -- histograms ----------------------------------------------------------------------------
    def _write_gradient_norms(self, state: TrainingState) -> None:
        """The gradient norms `fit` gathered since the last refresh (verbose >= 1)."""
        train = self._writer("train")
        for head, grads in state.gradients.items():
            prefix = f"{head}/" if len(state.gradients) > 1 else ""
            train.add_scalar(f"{prefix}gradient_global_norm", grads["global_norm"], state.step)
            for path, norm in jax.tree_util.tree_flatten_with_path(grads["norms"])[0]:
                train.add_scalar(f"{prefix}{_tag(path)}/gradient_norm", norm, state.step)

    def _write_histograms(self, state: TrainingState, weights: bool) -> None:
        """Histograms at this step, each kind once per step: of every parameter (`weights`),
        of every parameter's last gradient (verbose >= 1)."""
        trees = []
        if weights and self._histogram_step["weights"] != state.step:
            if self.model is None:
                raise ValueError("TensorBoard: weight histograms need the model: "
                                 "fit(callbacks=...) gives it through set_model; when calling "
                                 "the hooks yourself, call tensorboard.set_model(model) first.")
            trees.append(("", "", self.model.train_state.params))
            self._histogram_step["weights"] = state.step
        if self.verbose >= 1 and self._histogram_step["gradients"] != state.step:
            trees += [(f"{head}/" if len(state.gradients) > 1 else "", "/gradient",
                       grads["last"]) for head, grads in state.gradients.items()]
            self._histogram_step["gradients"] = state.step
        if not trees:
            return
        start = time.perf_counter()
        leaves = [(prefix + _tag(path) + suffix, value) for prefix, suffix, tree in trees
                  for path, value in jax.tree_util.tree_flatten_with_path(tree)[0]
                  if np.size(value)]
        stats = jax.device_get(_histogram_stats([value for _, value in leaves]))
        train = self._writer("train")
        for (tag, _), (lo, hi, total, squares, counts) in zip(leaves, stats, strict=True):
            lo, hi, num = float(lo), float(hi), int(counts.sum())
            if hi > lo:
                limits = (lo + (hi - lo) / BINS * np.arange(1, BINS + 1)).tolist()
                limits[-1] = hi
                buckets = counts.tolist()
            else:  # a constant array (a bias at 0): one bucket
                limits, buckets = [hi], [num]
            train.add_histogram_raw(tag, min=lo, max=hi, num=num, sum=float(total),
                                    sum_squares=float(squares), bucket_limits=limits,
                                    bucket_counts=buckets, global_step=state.step)
        self._histogram_done = time.perf_counter()
        self._histogram_seconds = self._histogram_done - start


def _scalars(tag: str, value: Any) -> list[tuple[str, float]]:
    """`[(tag, value)]` for a number, `[(tag/0, v0), (tag/1, v1), ...]` for a per-class metric;
    nothing for a confusion matrix (it is in the `History` and `CSVLogger`'s file)."""
    array = np.asarray(value)
    if array.ndim == 0:
        return [(tag, float(array))]
    if array.ndim == 1:
        return [(f"{tag}/{i}", float(v)) for i, v in enumerate(array)]
    return []


def _tag(path) -> str:
    """`FullyConnected/W` for the parameter at `params['FullyConnected']['W']`."""
    return "/".join(str(getattr(key, "key", getattr(key, "idx", key))) for key in path)
