"""Training throughput of an MLP 784-256-256-10: stackit's `fit` vs a hand-written JAX loop.

    python benchmarks/mlp_vs_jax.py [--epochs 3] [--samples 60000] [--repeats 5] [--batch-size 128]
    python benchmarks/mlp_vs_jax.py --baseline fit --tensorboard 0 --reduce-lr   # callbacks' cost

Both trainers do the same math: relu-relu-softmax MLP, mean softmax cross-entropy, adam
(lr 1e-3, b1 .9, b2 .999, eps 1e-8), batch 128. stackit runs with `clip_gradients=0.0`: its
default (5.0, global-norm clipping) is extra work the reference does not do.

- reference: `_common.ReferenceTrainer`, one jitted donated step per batch, data on the device,
  batches gathered on the device from a per-epoch permutation.
- stackit: `model.fit(X, Y, n_epoch=..., verbose=0, snapshot_epoch=False)` end to end: input
  checks, X/Y to the device, `STEPS_PER_CHUNK` steps fused in one `lax.scan` per dispatch, last
  batch padded and masked, loss + accuracy accumulated on the device, NaN guard on each step.

With `--tensorboard LEVEL` the stackit model writes TensorBoard logs
(`DNN(tensorboard_dir=<temp dir>, tensorboard_verbose=LEVEL)`) and with `--reduce-lr` its fit
runs `ReduceLROnPlateau(monitor='loss')`; `--baseline fit` then compares it with the same fit
without them (instead of the hand-written loop), against a 0.97 bar: the callbacks' cost.

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import stackit  # noqa: E402
from stackit.callbacks import ReduceLROnPlateau  # noqa: E402
from stackit.layers.core import fully_connected, input_data  # noqa: E402
from stackit.layers.estimator import regression  # noqa: E402

SIZES = (784, 256, 256, 10)


def init_mlp(key, sizes=SIZES):
    """Truncated-normal(0.02) weights and zero biases, as stackit's fully_connected."""
    params = []
    keys = jax.random.split(key, len(sizes) - 1)
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        w = 0.02 * jax.random.truncated_normal(k, -2.0, 2.0, (n_in, n_out), jnp.float32)
        params.append({"W": w, "b": jnp.zeros((n_out,), jnp.float32)})
    return params


def mlp_logits(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["W"] + layer["b"])
    return x @ params[-1]["W"] + params[-1]["b"]


def stackit_mlp(batch_size: int, seed: int, **dnn_kwargs) -> stackit.DNN:
    net = input_data(shape=[None, 784])
    net = fully_connected(net, 256, activation="relu")
    net = fully_connected(net, 256, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    net = regression(net, optimizer="adam", learning_rate=_common.LEARNING_RATE,
                     loss="categorical_crossentropy", batch_size=batch_size)
    # clip_gradients=0.0 (unless overridden): no global-norm clipping, so both trainers do
    # the same math.
    return stackit.DNN(net, **{"clip_gradients": 0.0, "seed": seed, **dnn_kwargs})


def callback_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tensorboard", type=int, metavar="LEVEL", choices=range(4),
                        help="stackit writes TensorBoard logs at this tensorboard_verbose level "
                             "(into a temporary folder)")
    parser.add_argument("--reduce-lr", action="store_true",
                        help="stackit's fit runs ReduceLROnPlateau(monitor='loss')")
    parser.add_argument("--baseline", choices=("jax", "fit"), default="jax",
                        help="compare with the hand-written JAX loop (default) or with stackit's "
                             "fit without the callbacks above")


def main() -> dict[str, float]:
    args = _common.parse_args(__doc__.splitlines()[0], epochs=3, samples=60_000, repeats=5,
                              extra=callback_options)
    x, y, source = _common.mnist_like(args.samples, args.seed)
    logs = tempfile.mkdtemp(prefix="stackit-bench-tb-")
    try:
        extras, label = {}, "stackit fit() end to end"
        if args.tensorboard is not None:
            extras = {"tensorboard_dir": logs, "tensorboard_verbose": args.tensorboard}
            label = f"fit + TensorBoard({args.tensorboard})"
        callbacks = [ReduceLROnPlateau(monitor="loss")] if args.reduce_lr else []
        label += " + ReduceLROnPlateau" if args.reduce_lr else ""
        model = stackit_mlp(args.batch_size, args.seed, **extras)
        hooks = HookTimer([*callbacks, *([model.tensorboard] if model.tensorboard else [])])
        ours = hooks.trainer(model, x, y, args.batch_size, callbacks, label)
        if args.baseline == "fit":
            reference = _common.StackitTrainer(stackit_mlp(args.batch_size, args.seed), x, y,
                                               args.batch_size, label="fit, no extras")
            result = _common.run_comparison("MLP 784-256-256-10, adam 1e-3: callbacks' cost",
                                            args, source, reference, ours, bar=0.97)
        else:
            reference = _common.ReferenceTrainer(x, y, args.batch_size, args.seed, init_mlp,
                                                 mlp_logits)
            result = _common.run_comparison("MLP 784-256-256-10, adam 1e-3", args, source,
                                            reference, ours)
        hooks.report()
        return result
    finally:
        shutil.rmtree(logs, ignore_errors=True)


class HookTimer:
    """Times the hooks of the added callbacks inside each timed `fit` (robust to a busy
    machine, unlike the end-to-end throughput)."""

    HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")

    def __init__(self, callbacks: list):
        self.seconds = 0.0
        self.per_fit: list[tuple[float, float]] = []  # (seconds in hooks, seconds of the fit)
        for callback in callbacks:
            for hook in self.HOOKS:
                setattr(callback, hook, self._timed(getattr(callback, hook)))

    def _timed(self, fn):
        def timed(state):
            start = time.perf_counter()
            try:
                return fn(state)
            finally:
                self.seconds += time.perf_counter() - start
        return timed

    def trainer(self, model, x, y, batch_size, callbacks, label) -> _common.StackitTrainer:
        trainer = _common.StackitTrainer(model, x, y, batch_size, callbacks, label)
        run = trainer.run

        def timed_run(epochs: int) -> int:
            self.seconds, start = 0.0, time.perf_counter()
            samples = run(epochs)
            self.per_fit.append((self.seconds, time.perf_counter() - start))
            return samples

        trainer.run = timed_run  # type: ignore[method-assign]
        return trainer

    def report(self) -> None:
        timed = self.per_fit[1:]  # after the warm-up fit (which imports tensorboardX)
        if not timed or not any(hooks for hooks, _ in timed):
            return
        share = statistics.median(hooks / wall for hooks, wall in timed)
        print(f"  time inside the added callbacks' hooks: median "
              f"{statistics.median(h for h, _ in timed) * 1e3:.1f} ms per fit, {share:.2%} of "
              f"the fit's wall time")


if __name__ == "__main__":
    main()
