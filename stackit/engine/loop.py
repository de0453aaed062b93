"""The host loop: epochs, chunks, refreshes, validation and callbacks.

It holds the training state while it runs and hands it back; the model gives it `sync`, called
before anything outside the loop (callbacks, among them snapshots) looks at the model.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from stackit.callbacks.base import Callback, TrainingState
from stackit.engine.data import (
    DeviceData,
    Placement,
    batch_indices,
    chunk_plan,
    fetch,
    host_rows,
    n_rows,
    pad_rows,
    unaliased,
)
from stackit.engine.heads import Head
from stackit.engine.prefetch import prefetch
from stackit.engine.steps import ExtraMetrics, Steps, TrainState, stat_key
from stackit.engine.stream import BatchStream, PlacedStream
from stackit.inputs import is_lazy
from stackit.learning_rate import get_learning_rate, set_learning_rate
from stackit.mixing import CutMix, Mixup

__all__ = ["fit_loop", "Position", "train_batch", "evaluate_arrays", "predict_arrays",
           "NonFiniteLossError", "primary_head", "read_gradients", "STEPS_PER_CHUNK",
           "REFRESH_SECONDS"]

# Steps fused into one dispatch when scanning, and the display refresh period.
STEPS_PER_CHUNK = 32
#: `evaluate` and `predict` run consecutive batches as one larger batch (no gradient: the
#: result is the same) while one sample's activations times its rows stay under this.
MERGED_BATCH_BYTES = 256 << 20
REFRESH_SECONDS = 0.5


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class Readout(dict):
    """Host values of the accumulators: `total` loss; `metrics`, `{name: value}` of the first
    head with metrics, and `metric`, the first scalar one of them; per head `{'loss': ...,
    metric name: ...}`. Values are floats, numpy arrays for non-scalar metrics (per class, a
    confusion matrix), or None when no sample was seen."""


def primary_head(heads: Sequence[Head]) -> Head | None:
    """The head whose metrics are shown and logged under their plain names (`acc`, not
    `<name>_acc`): the first with any."""
    return next((head for head in heads if head.metrics), None)


def read(acc: dict, steps: Steps, extra: ExtraMetrics = ()) -> tuple[Readout, int]:
    """Computes the metrics on the device and reads them to the host (one transfer); returns
    the readout and the NaN step."""
    host = fetch(steps.results(acc, extra))
    count = float(host["count"])
    out = Readout(total=None, metric=None, metrics={}, heads={})
    total = 0.0
    for head in steps.heads:
        stats = host["heads"][head.name]
        loss = float(stats["loss"]) / count if count else None
        entry: dict[str, Any] = {"loss": loss}
        for i, metric in enumerate(steps.metrics_of(head, extra)):
            value = stats[stat_key(i)]
            entry[metric.name] = None if not count else \
                float(value) if metric.scalar else np.asarray(value)
        out["heads"][head.name] = entry
        total += loss or 0.0
    primary = primary_head(steps.heads)
    if primary is not None:
        entry = out["heads"][primary.name]
        out["metrics"] = {metric.name: entry[metric.name] for metric in primary.metrics}
        out["metric"] = next((entry[m.name] for m in primary.metrics if m.scalar), None)
    out["total"] = total if count else None
    return out, int(host["nan_step"])


def read_gradients(stats: dict) -> dict:
    """Per head, from `Steps.new_gradient_stats` accumulators: `norms`, each parameter's
    root-mean-square gradient norm over the steps counted (a tree like the parameters, of
    floats); `global_norm`, the same for all parameters together; `last`, the last step's
    gradients (left on the device). Empty when no step was counted."""
    host = fetch({name: (s["sq"], s["steps"]) for name, s in stats.items()})
    out = {}
    for name, (sq, counted) in host.items():
        if float(counted) > 0:
            out[name] = {"norms": jax.tree.map(lambda v, c=counted: float(np.sqrt(v / c)), sq),
                         "global_norm": float(np.sqrt(sum(jax.tree.leaves(sq)) / counted)),
                         "last": stats[name]["last"]}
    return out


def _stop_on_nan(nan_step: int, where: str = "") -> None:
    if nan_step >= 0:
        raise NonFiniteLossError(
            f"The training loss became NaN or infinite at step {nan_step}{where}; training "
            f"stopped and the parameters from the step before are kept. Lower the learning "
            f"rate, check X and Y, or set DNN(clip_gradients=...).")


def evaluate_arrays(steps: Steps, params, layer_state, data: DeviceData | PlacedStream,
                    n: int | None, batch_size: int, extra: ExtraMetrics = ()) -> Readout:
    """Mean losses and metrics (with `extra` ones) over `n` samples (None: all a stream
    gives), in padded batches (no recompilation); the accumulators are read once, at the end."""
    chunks, per_chunk = (1, STEPS_PER_CHUNK) if n is None else \
        chunk_plan(n, batch_size, STEPS_PER_CHUNK)
    n = chunks * per_chunk * batch_size if n is None else n
    acc = data.placement.replicate(unaliased(steps.new_accumulators(extra)))
    params, layer_state = data.placement.replicate((params, layer_state))
    eval_chunk = steps.evaluator(extra)
    blocks = data.chunks(merged_batches(n, batch_size, steps)) \
        if isinstance(data, DeviceData) else \
        data.chunks(batch_indices(np.arange(n), batch_size, chunks, per_chunk))
    for _, (xs, ys, rows) in blocks:
        acc, _, _ = eval_chunk((acc, params, layer_state), xs, ys, rows)
    return read(acc, steps, extra)[0]


def predict_arrays(steps: Steps, params, layer_state, x: dict | PlacedStream,
                   batch_size: int) -> list:
    """The outputs for every row of `x` (a dict of arrays or lazy arrays, or a stream of
    batches), in batches padded to `batch_size`; one array per output. Arrays run in blocks
    of several batches (`merged_batches`): views of in-memory arrays, lazy arrays gathered a
    block ahead of the device. The host reads the outputs once, at the end."""
    if isinstance(x, PlacedStream):
        params, layer_state = x.placement.replicate((params, layer_state))
        batches = x.predict_batches()
    else:
        batches = _row_blocks(x, batch_size, steps)
        params, layer_state = Placement().replicate((params, layer_state))
    results = [(steps.predict_batch(params, layer_state, xs), real) for xs, real in batches]
    host = fetch([out for out, _ in results])  # one sync at the end
    return [np.concatenate([out[i][:real] for out, (_, real) in zip(host, results, strict=True)])
            if host[0][i].ndim else np.asarray(host[-1][i]) for i in range(len(steps.outputs))]


def _row_blocks(x: dict, batch_size: int, steps: Steps) -> Iterator[tuple[dict, int]]:
    """`(inputs, real rows)` for each block of `merged_batches`, placed on the devices."""
    n = n_rows(x)
    batch_size = min(batch_size, n)
    placement = Placement()
    in_memory = {k: isinstance(v, np.ndarray) and not is_lazy(v) for k, v in x.items()}

    def block(rows: np.ndarray) -> tuple[dict, int]:
        """The inputs of a block of consecutive rows (-1: padding), zero-padded to its width:
        a view of in-memory arrays, a gather from lazy ones; the compiled shapes depend on
        the block, never on n."""
        real = rows[rows >= 0]
        start, stop = int(real[0]), int(real[-1]) + 1
        part = {k: v[start:stop] if in_memory[k] else host_rows(v, real) for k, v in x.items()}
        return placement.split_rows({k: pad_rows(a, rows.size) for k, a in part.items()}), \
            len(real)

    blocks = [rows.reshape(-1) for rows in merged_batches(n, batch_size, steps)]
    if all(in_memory.values()):
        return map(block, blocks)  # views: nothing to prepare ahead
    return prefetch(block, blocks)


def merged_batches(n: int, batch_size: int, steps: Steps) -> list[np.ndarray]:
    """Indices of `n` rows for `evaluate` / `predict`: one (1, g * batch_size) block per
    dispatch, -1 padding the last. Each runs g batches as one: larger batches use the device
    better, and with no gradient and no batch statistics the results are the same. g is a
    power of two up to `STEPS_PER_CHUNK`, capped so that g batches' activations stay within
    `MERGED_BATCH_BYTES`; the last block takes the smallest power of two that holds the
    rest, so any `n` compiles at most a few shapes and pads less than it computes."""
    batches = -(-n // batch_size)
    row_bytes = steps.net.values_per_sample() * 4
    most = 1 << int(np.log2(max(1, min(STEPS_PER_CHUNK,
                                       MERGED_BATCH_BYTES // (batch_size * row_bytes)))))
    blocks, start = [], 0
    while start < batches:
        g = min(most, 1 << int(np.ceil(np.log2(batches - start))))
        rows = np.full(g * batch_size, -1, np.int32)
        real = np.arange(start * batch_size, min((start + g) * batch_size, n), dtype=np.int32)
        rows[:len(real)] = real
        blocks.append(rows.reshape(1, -1))
        start += g
    return blocks


def train_batch(steps: Steps, ts: TrainState, x: dict, y: dict,
                sync: Callable[[TrainState], None],
                mix: Mixup | CutMix | None = None) -> float:
    """One optimizer step (per head) on all of (x, y) as a single batch (mixed with `mix`, a
    `Mixup` / `CutMix`, when given); publishes the new state with `sync` (before raising on a
    non-finite loss) and returns the total mean loss."""
    n = n_rows(x)
    placement = Placement()
    ts = placement.replicate(unaliased(ts))
    xs, ys, rows = DeviceData(x, y, placement).chunk(np.arange(n, dtype=np.int32)[None])
    acc = placement.replicate(unaliased(steps.new_accumulators()))
    ts, acc = steps.trainer(mix)((ts, acc), xs, ys, rows)
    sync(ts)
    readout, nan_step = read(acc, steps)
    _stop_on_nan(nan_step)
    return readout["total"]


@dataclasses.dataclass
class Position:
    """Where a run stands inside an epoch: what a mid-epoch snapshot holds to resume exactly.

    Attributes:
        steps_done: Steps of the current epoch already taken (a multiple of the steps per
            dispatch, or all of them).
        batch_size: The batch size those steps used.
        order_rng: The data RNG state before this epoch's order was drawn (drawn again on
            resume, so the epoch goes on in the same order).
        acc: Host copy of the epoch's accumulators (so the epoch's logged loss is the same).
    """

    steps_done: int
    batch_size: int
    order_rng: Mapping[str, Any]
    acc: Any = None


class Interrupt:
    """Turns Ctrl-C (SIGINT) during `fit` into a request to stop after the current dispatch;
    a second Ctrl-C stops at once. Only in the main thread (elsewhere signals cannot be
    caught, and Ctrl-C raises as usual)."""

    def __init__(self):
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:  # second Ctrl-C: the user does not want to wait
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after the current steps (Ctrl-C again to stop at once).",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def fit_loop(steps: Steps, ts: TrainState, train: tuple[dict, dict] | BatchStream,
             val: tuple[dict, dict] | None, *, n_epoch: int, batch_size: int,
             val_batch_size: int, shuffle: bool, callbacks: Sequence[Callback],
             state: TrainingState, snapshot_step: int | None, snapshot_epoch: bool,
             rng: np.random.Generator,
             sync: Callable[[TrainState, int, Position | None], None],
             resume: Position | None = None,
             mix: Mixup | CutMix | None = None, gradients: bool = False) -> TrainState:
    """Runs `n_epoch` epochs (the first one finishing a resumed epoch) and returns the final
    training state.

    Args:
        sync: `sync(ts, epochs done, position in the current epoch or None)` publishes the
            state to the model; called before every callback hook. `state.snapshot_due` tells
            the hooks when a snapshot is due (every `snapshot_step` steps, after validating,
            and at the end of each epoch when `snapshot_epoch`); the `Snapshots` callback
            writes it.
        train: `(x, y)` dicts of arrays (or lazy arrays), or a `BatchStream` of batches
            (then each epoch takes its `steps` batches in the order they come; no shuffling).
        resume: Where a resumed epoch stands (from a mid-epoch snapshot), or None.
        mix: A `Mixup` / `CutMix` mixing every training batch, or None.
        gradients: Accumulate gradient statistics and put them into `state.gradients` at
            each refresh (`read_gradients`), for callbacks that log them.

    Raises:
        KeyboardInterrupt: After Ctrl-C, once the current dispatch has finished and a snapshot
            was offered to the callbacks (`state.interrupted` is True then).
        NonFiniteLossError: If the loss becomes NaN or infinite.
    """
    n = train.n_samples if isinstance(train, BatchStream) else n_rows(train[0])
    train_chunk = steps.trainer(mix, gradients)
    placement = Placement()
    ts = placement.replicate(unaliased(ts))
    data = train.placed(placement) if isinstance(train, BatchStream) else \
        DeviceData(*train, placement)
    val_data = DeviceData(*val, placement) if val is not None else None
    chunks, per_chunk = chunk_plan(n, batch_size, steps.steps_per_dispatch)
    # with several processes every one must refresh (read, call back) at the same chunks: the
    # clock of each differs, so they refresh at the marks that all of them see
    timed = jax.process_count() == 1
    done_epochs = state.start_epoch
    position: Position | None = None

    def emit(hook: str) -> bool:
        sync(ts, done_epochs, position)
        for callback in callbacks:
            try:
                getattr(callback, hook)(state)
            except StopIteration:
                state.stop_training = True
        return state.stop_training

    def read_learning_rates():
        """Puts each head's learning rate (of its next step) into `state` (one small sync)."""
        found = {head.name: get_learning_rate(opt) for head, opt in zip(steps.heads,
                                                                         ts.opt_state,
                                                                         strict=True)}
        host = fetch({k: v for k, v in found.items() if v is not None})
        state.learning_rates = {k: float(v) for k, v in host.items()}

    def write_learning_rate(lr: float, names: list[str]) -> None:
        """Writes `lr` into the optimizer state of the named heads, between dispatches."""
        nonlocal ts
        opt_states = list(ts.opt_state)
        for i, head in enumerate(steps.heads):
            if head.name in names:
                opt_states[i] = set_learning_rate(opt_states[i], lr,
                                                  f"set_learning_rate({head.name!r})")
        ts = ts._replace(opt_state=tuple(opt_states))
        read_learning_rates()
        sync(ts, done_epochs, position)

    def validate():
        if val_data is not None and val is not None:
            readout = evaluate_arrays(steps, ts.params, ts.layer_state, val_data,
                                      n_rows(val[0]), val_batch_size)
            state.val_loss, state.val_acc = readout["total"], readout["metric"]
            state.val_heads, state.val_metrics = readout["heads"], readout["metrics"]

    def refresh(acc, start, done_steps, rate_from):
        readout, nan_step = read(acc, steps)
        _stop_on_nan(nan_step, f" (epoch {state.epoch})")
        state.loss_value, state.acc_value = readout["total"], readout["metric"]
        state.heads, state.metrics = readout["heads"], readout["metrics"]
        read_learning_rates()
        state.step = int(ts.step)
        state.step_in_epoch = min(done_steps, state.steps_per_epoch)
        state.elapsed = time.perf_counter() - start
        seen = min(done_steps * batch_size, n)
        t0, seen0 = rate_from
        spent = time.perf_counter() - t0
        # None until a chunk after the compiling one has finished: no misleading first rate
        state.samples_per_sec = (seen - seen0) / spent if seen > seen0 and spent > 0 else None

    def stop_for_interrupt():
        """After Ctrl-C: validate, offer the callbacks a snapshot of this very state, stop."""
        validate()
        state.snapshot_due = state.interrupted = True
        emit("on_batch_end")
        state.snapshot_due = False
        raise KeyboardInterrupt

    host_step = int(ts.step)
    start_chunk = 0
    if resume is not None:
        if resume.batch_size != batch_size or resume.steps_done % per_chunk and \
                resume.steps_done < state.steps_per_epoch:
            raise ValueError(f"The snapshot was taken mid-epoch with batch_size="
                             f"{resume.batch_size}; resume with the same batch_size. "
                             f"Received: batch_size={batch_size}.")
        start_chunk = min(chunks, -(-resume.steps_done // per_chunk))
    read_learning_rates()
    state.lr_writer = write_learning_rate
    with Interrupt() as interrupt:
        try:
            emit("on_train_begin")
            for _ in range(n_epoch):
                state.epoch += 1
                state.val_loss = state.val_acc = None
                state.val_heads, state.val_metrics = {}, {}
                if resume is not None:
                    rng.bit_generator.state = resume.order_rng
                order_rng = rng.bit_generator.state
                order = rng.permutation(n) if shuffle else np.arange(n)
                acc = placement.replicate(unaliased(steps.new_accumulators()))
                first = start_chunk
                if resume is not None and resume.acc is not None:
                    acc = placement.replicate(unaliased(resume.acc))
                if gradients:
                    acc = {**acc, "grads": placement.replicate(steps.new_gradient_stats(
                        ts.params))}
                resume, start_chunk = None, 0
                # 0, or the steps a resumed epoch had done: what on_epoch_begin already did then
                state.step_in_epoch = min(first * per_chunk, state.steps_per_epoch)
                if emit("on_epoch_begin"):
                    break
                start = last = time.perf_counter()
                done, snapshot_at, due_at_end = first, None, False
                rate_from = (start, first * per_chunk * batch_size)
                all_idx = batch_indices(order, batch_size, chunks, per_chunk)
                for c, (idx, (xs, ys, rows)) in enumerate(data.chunks(all_idx[first:]), first):
                    ts, acc = train_chunk((ts, acc), xs, ys, rows)
                    if c == first and state.epoch == state.start_epoch + 1:
                        # the first chunk compiled the step: measure throughput after it
                        jax.block_until_ready(acc)
                        rate_from = (time.perf_counter(),
                                     min((first + 1) * per_chunk * batch_size, n))
                    done = c + 1
                    before = host_step
                    host_step += int(np.any(idx >= 0, axis=1).sum())
                    now = time.perf_counter()
                    crossed = bool(snapshot_step and (host_step // snapshot_step
                                                      > before // snapshot_step))
                    last_chunk = c == chunks - 1
                    due_at_end = due_at_end or (crossed and last_chunk)
                    if (timed and now - last >= REFRESH_SECONDS) or last_chunk or crossed or \
                            interrupt.requested:
                        last = now
                        refresh(acc, start, done * per_chunk, rate_from)
                        if gradients:  # a fresh window of steps for each refresh
                            state.gradients = read_gradients(acc.pop("grads"))
                            acc["grads"] = placement.replicate(steps.new_gradient_stats(
                                ts.params))
                        # the epoch is closed (and the position dropped) after its last chunk
                        position = Position(min(done * per_chunk, state.steps_per_epoch),
                                            batch_size, order_rng, fetch(
                                                {k: v for k, v in acc.items() if k != "grads"}))
                        if interrupt.requested:
                            stop_for_interrupt()
                        if crossed and not last_chunk:
                            validate()  # the snapshot callback saves on this on_batch_end
                            state.snapshot_due, snapshot_at = True, host_step
                        stop = emit("on_batch_end")
                        state.snapshot_due = False
                        if interrupt.requested:  # Ctrl-C during the hooks
                            stop_for_interrupt()
                        if stop:
                            break
                refresh(acc, start, done * per_chunk, rate_from)
                position = None
                if snapshot_at != host_step:  # else validated at this very step already
                    validate()
                for key, value in state.logs().items():
                    state.history.setdefault(key, []).append(value)
                done_epochs = state.epoch
                state.snapshot_due = (snapshot_epoch or due_at_end) and snapshot_at != host_step
                stop = emit("on_epoch_end")
                state.snapshot_due = False
                if interrupt.requested:
                    stop_for_interrupt()
                if stop:
                    break
        finally:
            try:
                emit("on_train_end")
            finally:
                state.lr_writer = None  # the state outlives fit; its writer must not
    return ts
