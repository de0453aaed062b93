"""The compiled steps and the fit loop.

Speed comes from three things: the data is put on the device once and each batch is gathered
there from a permutation; several steps run per dispatch (a `lax.scan` over a chunk of batches);
and the host reads the metrics only when the display refreshes. The last partial batch is padded
and masked, so it neither recompiles nor biases the loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from stackit import activations, losses, metrics, optimizers
from stackit.callbacks.base import Callback, TrainingState
from stackit.layers.estimator import Regression
from stackit.network import Network

__all__ = ["TrainState", "Steps", "fit_loop", "train_batch", "evaluate_arrays",
           "predict_arrays"]

# Data larger than this stays on the host and is sent one chunk at a time.
DEVICE_DATA_LIMIT_BYTES = 2 << 30
# Steps fused into one dispatch when scanning, and the display refresh period.
STEPS_PER_CHUNK = 32
REFRESH_SECONDS = 0.5


class TrainState(NamedTuple):
    """Everything training changes, as one pytree (donated to each step)."""

    params: dict
    layer_state: dict
    opt_state: Any
    step: jax.Array
    key: jax.Array


def build_optimizer(estimator: Regression, clip_gradients: float,
                    params: dict, frozen: set[str]) -> optax.GradientTransformation:
    """The estimator's optax transformation, with global-norm clipping and frozen layers."""
    tx = optimizers.build(estimator.optimizer, estimator.learning_rate)
    if clip_gradients:
        tx = optax.chain(optax.clip_by_global_norm(clip_gradients), tx)
    if frozen:  # a parameter is frozen when any key on its path names a frozen layer
        labels = jax.tree_util.tree_map_with_path(
            lambda path, _: "frozen" if frozen & {getattr(k, "key", None) for k in path}
            else "train", params)
        tx = optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)
    return tx


class Steps:
    """The jit-compiled train, eval and predict functions of one network and estimator.

    Args:
        net: The network.
        estimator: Its `Regression` layer (None for predict-only use).
        tx: The optax transformation.
        scan: Fuse a chunk of training steps into one `lax.scan` (else one step per call).
    """

    def __init__(self, net: Network, estimator: Regression | None,
                 tx: optax.GradientTransformation | None, scan: bool):
        self.net, self.tx, self.scan = net, tx, scan
        self.cond_guard = jax.default_backend() == "cpu"  # see _guarded_update
        self.loss = losses.get(estimator.loss) if estimator else None
        self.metric = metrics.get(estimator.metric) if estimator else None
        self.n_classes = estimator.n_classes if estimator and estimator.to_one_hot else None
        if self.loss is not None:
            net.use_loss(self.loss)
        self.train_chunk = jax.jit(self._chunk(self._train_step, scan), donate_argnums=(0,))
        self.eval_chunk = jax.jit(self._chunk(self._eval_step, True))
        self.predict_batch = jax.jit(self._predict)

    # -- pure pieces ---------------------------------------------------------------------------
    def new_accumulators(self) -> dict:
        acc: dict[str, Any] = {"loss": jnp.zeros(()), "count": jnp.zeros(()),
               "nan_step": jnp.full((), -1, jnp.int32)}
        if self.metric is not None:
            acc["metric"] = self.metric.init()
        return acc

    def _forward(self, params, layer_state, x, y, mask, *, training, key):
        if self.n_classes:
            y = jax.nn.one_hot(y, self.n_classes)
        net, loss = self.net, self.loss
        out, new_state = net.apply(params, layer_state, x, training=training, key=key,
                                   logits=True, mask=mask)
        if net.logits_layers:
            pred = net.output_activation(out)
            per_sample = (loss.fn if loss.logits_of else loss.stable_fn)(out, y)
        else:
            pred, per_sample = out, loss.fn(out, y)
            if loss.logits_of:  # a linear output read as logits: metrics see probabilities
                pred = activations.get(loss.logits_of)(out)
        return pred, y, per_sample, new_state

    def _accumulate(self, acc, pred, y, per_sample, mask, finite):
        new = dict(acc)
        new["loss"] = acc["loss"] + jnp.where(finite, jnp.sum(per_sample * mask), 0.0)
        new["count"] = acc["count"] + jnp.sum(mask)
        if self.metric is not None:
            new["metric"] = self.metric.update(acc["metric"], pred, y, mask)
        return new

    def _train_step(self, carry, x, y, mask):
        ts, acc = carry
        key, step_key = jax.random.split(ts.key)

        def objective(params):
            pred, y1, per_sample, new_state = self._forward(params, ts.layer_state, x, y, mask,
                                                            training=True, key=step_key)
            data_loss = jnp.sum(per_sample * mask) / jnp.maximum(jnp.sum(mask), 1.0)
            return data_loss + self.net.penalty(params), (pred, y1, per_sample, new_state)

        (total, (pred, y1, per_sample, new_state)), grads = jax.value_and_grad(
            objective, has_aux=True)(ts.params)
        real, finite = jnp.sum(mask) > 0, jnp.isfinite(total)
        ok = real & finite
        params, opt_state, layer_state = self._guarded_update(
            ok, grads, ts.params, ts.opt_state, ts.layer_state, new_state)
        new_ts = TrainState(params, layer_state, opt_state, ts.step + ok.astype(jnp.int32), key)
        acc = self._accumulate(acc, pred, y1, per_sample, mask, finite)
        first_bad = (acc["nan_step"] < 0) & real & ~finite
        acc["nan_step"] = jnp.where(first_bad, ts.step + 1, acc["nan_step"])
        return new_ts, acc

    def _guarded_update(self, ok, grads, params, opt_state, layer_state, new_state):
        """The optimizer update, or the old state unchanged where `ok` is False (a step of
        padding only, or a non-finite loss).

        On CPU this is a `lax.cond` whose false branch passes the state through, so XLA updates
        params and optimizer state in place; `jnp.where(ok, new, old)` keeps both alive and
        copies every optimizer moment each step (7-10% of an MLP step, benchmarks/step_cost.py).
        The pass-through must stay the false branch: older XLA elides its copies only there
        (openxla/xla#46314). On GPU a conditional reads its predicate on the host, a sync per
        step (jax-ml/jax#5986), so the `where` form stays there.
        """

        def update(operands):
            grads, params, opt_state, _, new_state = operands
            updates, opt_state = self.tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, new_state

        def skip(operands):
            _, params, opt_state, layer_state, _ = operands
            return params, opt_state, layer_state

        operands = (grads, params, opt_state, layer_state, new_state)
        if self.cond_guard:
            return lax.cond(ok, update, skip, operands)
        return jax.tree.map(lambda a, b: jnp.where(ok, a, b), update(operands), skip(operands))

    def _eval_step(self, carry, x, y, mask):
        acc, params, layer_state = carry
        pred, y1, per_sample, _ = self._forward(params, layer_state, x, y, mask, training=False,
                                                key=None)
        return self._accumulate(acc, pred, y1, per_sample, mask, True), params, layer_state

    def _predict(self, params, layer_state, x):
        out, _ = self.net.apply(params, layer_state, x, training=False, key=None)
        return out

    @staticmethod
    def _chunk(step: Callable, scan: bool) -> Callable:
        """Runs `step` over rows of batch indices `idx` (K, B); -1 marks padding."""

        def body(carry, rows, xs, ys):
            mask = (rows >= 0).astype(jnp.float32)
            safe = jnp.maximum(rows, 0)
            return step(carry, jnp.take(xs, safe, axis=0), jnp.take(ys, safe, axis=0), mask)

        def run(carry, xs, ys, idx):
            if scan:
                carry, _ = lax.scan(lambda c, rows: (body(c, rows, xs, ys), None), carry, idx)
                return carry
            for rows in idx:  # unrolled: K is small (1) when scanning is slow
                carry = body(carry, rows, xs, ys)
            return carry

        return run


# -- host side ------------------------------------------------------------------------------------

def chunk_plan(n: int, batch_size: int, steps_per_chunk: int) -> tuple[int, int]:
    """(chunks, steps per chunk) covering ceil(n / batch_size) steps with little padding."""
    steps = math.ceil(n / batch_size)
    chunks = math.ceil(steps / max(1, min(steps_per_chunk, steps)))
    return chunks, math.ceil(steps / chunks)


def batch_indices(order: np.ndarray, batch_size: int, chunks: int, per_chunk: int) -> np.ndarray:
    """Sample indices laid out as (chunks, steps, batch), padded with -1."""
    idx = np.full(chunks * per_chunk * batch_size, -1, np.int32)
    idx[: len(order)] = order
    return idx.reshape(chunks, per_chunk, batch_size)


def unaliased(tree):
    """`tree` with repeated array objects copied: a donated argument may hold each buffer once
    (e.g. a metric's `init` that reuses one zero array for several statistics)."""
    seen: set[int] = set()

    def fresh(leaf):
        if id(leaf) in seen:
            return jnp.array(leaf, copy=True)
        seen.add(id(leaf))
        return leaf

    return jax.tree.map(fresh, tree)


class Placement:
    """Where arrays live: one device, or, with several devices, the batch axis split over a
    one-axis mesh of all of them (data parallelism; parameters replicated)."""

    def __init__(self, batch_size: int):
        devices = jax.devices()
        self.mesh = None
        if len(devices) > 1 and batch_size % len(devices) == 0:
            self.mesh = Mesh(np.asarray(devices), ("batch",))

    def replicate(self, tree):
        """Copies `tree` to every device (or to the one device)."""
        if self.mesh is None:
            return jax.device_put(tree)
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))

    def split_batches(self, idx: np.ndarray):
        """Batch indices (..., B) with the batch axis spread over the devices."""
        if self.mesh is None:
            return idx
        spec = PartitionSpec(*([None] * (idx.ndim - 1)), "batch")
        return jax.device_put(idx, NamedSharding(self.mesh, spec))


class DeviceData:
    """X and Y for the compiled chunks: on the device once when they fit, else per chunk."""

    def __init__(self, x: np.ndarray, y: np.ndarray, placement: Placement):
        self.placement = placement
        self.on_device = (isinstance(x, np.ndarray)
                          and x.nbytes + y.nbytes <= DEVICE_DATA_LIMIT_BYTES)
        if self.on_device:
            self.x, self.y = placement.replicate(x), placement.replicate(y)
        else:
            self.x, self.y = x, y

    def chunk(self, idx: np.ndarray):
        """(xs, ys, idx) for one chunk of batch indices."""
        if self.on_device:
            return self.x, self.y, self.placement.split_batches(idx)
        flat = idx.reshape(-1)
        safe = np.maximum(flat, 0)
        local = np.where(flat >= 0, np.arange(flat.size), -1).astype(np.int32)
        xs, ys = self.placement.replicate((self.x[safe], self.y[safe]))
        return xs, ys, self.placement.split_batches(local.reshape(idx.shape))


def _read(acc: dict, metric) -> tuple[float | None, float | None, int]:
    host = jax.device_get(acc)
    count = float(host["count"])
    loss = float(host["loss"]) / count if count else None
    value = float(metric.result(host["metric"])) if metric is not None and count else None
    return loss, value, int(host["nan_step"])


def evaluate_arrays(steps: Steps, params, layer_state, data: DeviceData, n: int,
                    batch_size: int) -> tuple[float | None, float | None]:
    """Mean loss and metric over `n` samples, in padded batches (no recompilation); both are
    None when `n` is 0."""
    chunks, per_chunk = chunk_plan(n, batch_size, STEPS_PER_CHUNK)
    acc = steps.new_accumulators()
    for idx in batch_indices(np.arange(n), batch_size, chunks, per_chunk):
        xs, ys, rows = data.chunk(idx)
        acc, _, _ = steps.eval_chunk((acc, params, layer_state), xs, ys, rows)
    loss, value, _ = _read(acc, steps.metric)
    return loss, value


def predict_arrays(steps: Steps, params, layer_state, x: np.ndarray, batch_size: int):
    """Network outputs for every row of `x`, in padded batches of `batch_size`."""
    outputs = []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        real = len(batch)
        if real < batch_size and len(x) > batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - real, *batch.shape[1:]),
                                                    batch.dtype)])
        outputs.append(steps.predict_batch(params, layer_state, batch)[:real])
    return np.concatenate(jax.device_get(outputs))  # one sync at the end: batches overlap


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


def _stop_on_nan(nan_step: int, where: str = "") -> None:
    if nan_step >= 0:
        raise NonFiniteLossError(
            f"The training loss became NaN or infinite at step {nan_step}{where}; training "
            f"stopped and the parameters from the step before are kept. Lower the learning "
            f"rate, check X and Y, or set DNN(clip_gradients=...).")


def train_batch(model, steps: Steps, x: np.ndarray, y: np.ndarray) -> float:
    """One optimizer step on all of (x, y) as a single batch; returns its mean loss."""
    placement = Placement(len(x))
    model.train_state = placement.replicate(unaliased(model.train_state))
    xs, ys, rows = DeviceData(x, y, placement).chunk(np.arange(len(x), dtype=np.int32)[None])
    model.train_state, acc = steps.train_chunk(
        (model.train_state, unaliased(steps.new_accumulators())), xs, ys, rows)
    loss, _, nan_step = _read(acc, steps.metric)
    _stop_on_nan(nan_step)
    assert loss is not None  # x is never empty: the model refuses empty data first
    return loss


def fit_loop(model, steps: Steps, train: tuple[np.ndarray, np.ndarray],
             val: tuple[np.ndarray, np.ndarray] | None, *, n_epoch: int, batch_size: int,
             val_batch_size: int, shuffle: bool, callbacks: Sequence[Callback],
             state: TrainingState, snapshot_step: int | None, snapshot_epoch: bool,
             rng: np.random.Generator) -> TrainingState:
    """Runs `n_epoch` epochs, updating `model.train_state` after every dispatched chunk."""
    x, y = train
    n = len(x)
    placement = Placement(batch_size)
    model.train_state = placement.replicate(unaliased(model.train_state))
    data = DeviceData(x, y, placement)
    val_data = DeviceData(*val, Placement(val_batch_size)) if val is not None else None
    chunks, per_chunk = chunk_plan(n, batch_size, STEPS_PER_CHUNK if steps.scan else 1)

    def emit(hook: str) -> bool:
        for callback in callbacks:
            try:
                getattr(callback, hook)(state)
            except StopIteration:
                state.stop_training = True
        return state.stop_training

    def validate():
        if val_data is not None:
            ts = model.train_state
            state.val_loss, state.val_acc = evaluate_arrays(
                steps, ts.params, ts.layer_state, val_data, len(val[0]), val_batch_size)

    def refresh(acc, start, done_steps, rate_from):
        loss, value, nan_step = _read(acc, steps.metric)
        _stop_on_nan(nan_step, f" (epoch {state.epoch})")
        state.loss_value, state.acc_value = loss, value
        state.step = int(model.train_state.step)
        state.step_in_epoch = min(done_steps, state.steps_per_epoch)
        state.elapsed = time.perf_counter() - start
        seen = min(done_steps * batch_size, n)
        t0, seen0 = rate_from
        spent = time.perf_counter() - t0
        # None until a chunk after the compiling one has finished: no misleading first rate
        state.samples_per_sec = (seen - seen0) / spent if seen > seen0 and spent > 0 else None

    host_step = int(model.train_state.step)
    for callback in callbacks:
        callback.set_model(model)
    try:
        emit("on_train_begin")
        for _ in range(n_epoch):
            state.epoch += 1
            state.val_loss = state.val_acc = None
            order = rng.permutation(n) if shuffle else np.arange(n)
            acc = unaliased(steps.new_accumulators())
            if emit("on_epoch_begin"):
                break
            start = last = time.perf_counter()
            done, snapshot_at = 0, None
            for c, idx in enumerate(batch_indices(order, batch_size, chunks, per_chunk)):
                xs, ys, rows = data.chunk(idx)
                model.train_state, acc = steps.train_chunk((model.train_state, acc), xs, ys, rows)
                if c == 0 and state.epoch == state.start_epoch + 1:
                    # the first chunk compiled the step: measure throughput after it
                    jax.block_until_ready(acc)
                    rate_from = (time.perf_counter(), min(per_chunk * batch_size, n))
                elif c == 0:
                    rate_from = (start, 0)
                done = c + 1
                before, host_step = host_step, host_step + int(np.any(idx >= 0, axis=1).sum())
                now = time.perf_counter()
                crossed = bool(snapshot_step and (host_step // snapshot_step
                                                  > before // snapshot_step))
                if now - last >= REFRESH_SECONDS or c == chunks - 1 or crossed:
                    last = now
                    refresh(acc, start, done * per_chunk, rate_from)
                    if crossed:
                        validate()
                        model.snapshot(state)
                        snapshot_at = host_step
                    if emit("on_batch_end"):
                        break
            refresh(acc, start, done * per_chunk, rate_from)
            if snapshot_at != host_step:  # else validated and saved at this very step already
                validate()
            for key, value in state.logs().items():
                state.history.setdefault(key, []).append(value)
            model.epoch = state.epoch
            if snapshot_epoch and snapshot_at != host_step:
                model.snapshot(state)
            if emit("on_epoch_end"):
                break
    finally:
        emit("on_train_end")
    return state
