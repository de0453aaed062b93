"""Shared harness of the stackit-vs-hand-written-JAX benchmarks.

Not a public module: the scripts next to it (`python benchmarks/<name>.py`) import it. It holds
the data, the hand-written reference trainer (generic over the model), the stackit runner and
the timing/reporting; each script supplies only its model, written twice (plain JAX and stackit).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import stackit  # noqa: E402
import stackit.engine.loop  # noqa: E402
from stackit.callbacks.base import Callback  # noqa: E402

SAMPLE_PATH = ROOT / "stackit" / "datasets" / "mnist_sample.npz"
RATIO_BAR = 0.9
LEARNING_RATE = 1e-3


# -- arguments and data ---------------------------------------------------------------------------

def parse_args(description: str, *, epochs: int, samples: int, repeats: int,
               batch_size: int = 128,
               extra: Callable[[argparse.ArgumentParser], None] | None = None
               ) -> argparse.Namespace:
    """The shared options; `extra(parser)` may add a script's own."""
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"epochs per timed repeat, i.e. per fit() call (default {epochs})")
    parser.add_argument("--samples", type=int, default=samples,
                        help=f"training rows (default {samples})")
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=f"timed repeats of each trainer, interleaved; medians are reported "
                             f"(default {repeats})")
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help=f"batch size (default {batch_size})")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = parser.parse_args()
    for name in ("epochs", "samples", "repeats", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.samples < args.batch_size:
        parser.error("--samples must be >= --batch-size")
    return args


def mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(X float32 (n, 784) in [0, 1], Y one-hot float32 (n, 10), description).

    The 5,000-image MNIST sample shipped with stackit, tiled to `n` rows, when it is there;
    otherwise random data of the same shape (speed does not depend on the values).
    """
    if SAMPLE_PATH.exists():
        with np.load(SAMPLE_PATH) as d:
            x = np.concatenate([d["x_train"], d["x_test"]]).reshape(-1, 784)
            labels = np.concatenate([d["y_train"], d["y_test"]]).astype(np.int64)
        base = len(x)
        reps = -(-n // base)
        x = np.tile(x, (reps, 1))[:n].astype(np.float32) / np.float32(255.0)
        labels = np.tile(labels, reps)[:n]
        source = f"MNIST sample ({SAMPLE_PATH.name}, {base:,} images) tiled to {n:,} rows"
    else:
        rng = np.random.default_rng(seed)
        x = rng.random((n, 784), dtype=np.float32)
        labels = rng.integers(0, 10, n)
        source = f"random data, {n:,} rows (MNIST sample not found)"
    y = np.eye(10, dtype=np.float32)[labels]
    return np.ascontiguousarray(x), y, source


# -- the hand-written reference -------------------------------------------------------------------

class ReferenceTrainer:
    """The best straightforward hand-written JAX + optax loop: one `jax.jit` step per batch.

    X and Y are put on the device once. Each epoch draws a permutation on the device; each step
    slices its batch's rows out of it (`lax.dynamic_slice`) and gathers them from X/Y on the
    device. The train state (params, adam state) is donated to the step. Step indices are
    device scalars made once, so a step copies nothing from the host. The last partial batch
    of an epoch is dropped (and not counted). Nothing is read back until the end of `run`.

    Args:
        x, y: Inputs and one-hot targets (numpy).
        batch_size: Batch size.
        seed: Seed of the init and the permutations.
        init_fn: `init_fn(key) -> params`.
        logits_fn: `logits_fn(params, x) -> logits`; the loss is mean softmax cross-entropy.
    """

    #: How the report names this trainer.
    label = "jax reference (per-step jit)"

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                 init_fn: Callable, logits_fn: Callable):
        self.n, self.batch_size = len(x), batch_size
        self.steps = self.n // batch_size
        self.xs, self.ys = jax.device_put(x), jax.device_put(y)
        tx = optax.adam(LEARNING_RATE)
        init_key, self.key = jax.random.split(jax.random.PRNGKey(seed))
        params = init_fn(init_key)
        self.state = (params, tx.init(params))
        self.step_ids = [jnp.asarray(i, jnp.int32) for i in range(self.steps)]

        def loss_fn(params, x, y):
            return optax.softmax_cross_entropy(logits_fn(params, x), y).mean()

        @functools.partial(jax.jit, donate_argnums=(0,))
        def train_step(state, xs, ys, perm, i):
            params, opt_state = state
            rows = lax.dynamic_slice_in_dim(perm, i * batch_size, batch_size)
            xb, yb = jnp.take(xs, rows, axis=0), jnp.take(ys, rows, axis=0)
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        @jax.jit
        def permutation(key):
            key, sub = jax.random.split(key)
            return key, jax.random.permutation(sub, self.n).astype(jnp.int32)

        self.train_step, self.permutation = train_step, permutation

    def run(self, epochs: int) -> int:
        """Trains `epochs` epochs, waits for the device, returns the samples trained on."""
        loss = None
        for _ in range(epochs):
            self.key, perm = self.permutation(self.key)
            for i in self.step_ids:
                self.state, loss = self.train_step(self.state, self.xs, self.ys, perm, i)
        jax.block_until_ready((self.state, loss))
        return epochs * self.steps * self.batch_size


# -- stackit --------------------------------------------------------------------------------------

class EpochClock(Callback):
    """Wall time of each epoch inside `fit`. An epoch ends after its final metrics read-back,
    which waits for the device, so the times are real."""

    def __init__(self):
        self.times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, state):
        self._start = time.perf_counter()

    def on_epoch_end(self, state):
        self.times.append(time.perf_counter() - self._start)


class StackitTrainer:
    """`model.fit(X, Y, n_epoch=epochs, verbose=0, snapshot_epoch=False)`, timed end to end;
    an `EpochClock` also times the epochs inside each call. `callbacks` are added to the fit;
    `label` names the trainer in the report."""

    def __init__(self, model: stackit.DNN, x: np.ndarray, y: np.ndarray, batch_size: int,
                 callbacks: list[Callback] | None = None,
                 label: str = "stackit fit() end to end"):
        self.model, self.x, self.y, self.batch_size = model, x, y, batch_size
        self.callbacks, self.label = list(callbacks or []), label
        self.clock = EpochClock()
        self.epoch_seconds: list[float] = []

    def run(self, epochs: int) -> int:
        self.clock.times.clear()
        self.model.fit(self.x, self.y, n_epoch=epochs, batch_size=self.batch_size, verbose=0,
                       snapshot_epoch=False, callbacks=[*self.callbacks, self.clock])
        jax.block_until_ready(self.model.train_state)
        self.epoch_seconds = list(self.clock.times)
        return epochs * len(self.x)


# -- timing and report ----------------------------------------------------------------------------

def header(title: str, args: argparse.Namespace, source: str) -> None:
    dev = jax.devices()[0]
    print(f"== {title}")
    print(f"jax {jax.__version__}, jaxlib {getattr(jax.lib, '__version__', '?')}, optax "
          f"{optax.__version__} | backend {jax.default_backend()}, device {dev.device_kind} "
          f"({len(jax.devices())} visible) | python {platform.python_version()}, "
          f"{os.cpu_count()} host CPUs, load avg {_loadavg()}")
    print(f"data: {source}")
    print(f"batch {args.batch_size}, {args.epochs} epoch(s) per timed repeat, {args.repeats} "
          f"repeats (interleaved), medians reported")


def _loadavg() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def run_comparison(title: str, args: argparse.Namespace, source: str,
                   reference: ReferenceTrainer | StackitTrainer, ours: StackitTrainer,
                   bar: float = RATIO_BAR) -> dict[str, float]:
    """Warms both up, times `args.repeats` interleaved repeats of `args.epochs` epochs each,
    prints the table (the verdict against `bar`), and returns the medians and ratios."""
    header(title, args, source)
    t0 = time.perf_counter()
    reference.run(1)  # compile + one epoch
    t1 = time.perf_counter()
    ours.run(1)
    t2 = time.perf_counter()
    print(f"warm-up (compile + 1 epoch): reference {t1 - t0:.1f} s, stackit {t2 - t1:.1f} s")

    rows: dict[str, list[float]] = {"ref": [], "ref_cpu": [], "fit": [], "fit_cpu": [],
                                    "epoch": [], "overhead": []}
    for r in range(args.repeats):
        # Interleaved (A B A B ...) so that drift in the machine's speed hits both alike.
        for name, trainer in (("ref", reference), ("fit", ours)):
            wall, cpu = time.perf_counter(), time.process_time()
            samples = trainer.run(args.epochs)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows[name].append(samples / wall)
            rows[name + "_cpu"].append(samples / cpu)
        epochs = ours.epoch_seconds
        rows["overhead"].append(wall - sum(epochs))
        # Steady state inside fit: the epochs after the first of the call (the first also waits
        # for the call's copy of X/Y to the device).
        later = epochs[1:] or epochs
        rows["epoch"].append(len(later) * len(ours.x) / sum(later))
        print(f"  repeat {r + 1}/{args.repeats}: reference {rows['ref'][-1]:>9,.0f}  "
              f"stackit fit {rows['fit'][-1]:>9,.0f}  samples/s  (stackit epochs "
              f"{', '.join(f'{e:.2f}' for e in epochs)} s)", flush=True)

    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = med["fit"] / med["ref"]
    print()
    labels = (("ref", reference.label), ("fit", ours.label),
              ("epoch", "stackit epochs 2.. inside fit()"))
    width = max(34, *(len(label) for _, label in labels))
    print(f"  {'':{width}s} {'median samples/s':>17s} {'min':>9s} {'max':>9s}")
    for key, label in labels:
        print(f"  {label:{width}s} {med[key]:>17,.0f} {min(rows[key]):>9,.0f} "
              f"{max(rows[key]):>9,.0f}")
    print(f"  samples per CPU-second (robust to a busy machine): reference "
          f"{med['ref_cpu']:,.0f}, stackit {med['fit_cpu']:,.0f} "
          f"(ratio {med['fit_cpu'] / med['ref_cpu']:.3f})")
    steps = ours.model.steps
    scan = getattr(steps, "scan", None)
    per_chunk = stackit.engine.loop.STEPS_PER_CHUNK if scan else 1
    cache_size = getattr(steps.train_chunk, "_cache_size", lambda: "?")()
    print(f"  stackit: scan={scan}, {per_chunk} step(s) per dispatch, train_chunk compiled "
          f"{cache_size} time(s) (1 = no recompilation); fit() time outside its epochs (input "
          f"checks, X/Y to device) median {med['overhead'] * 1e3:.0f} ms per call")
    print()
    verdict = "meets" if ratio >= bar else "is BELOW"
    print(f"RESULT: stackit/reference = {ratio:.3f} (fit end to end; "
          f"{med['epoch'] / med['ref']:.3f} for epochs 2.. inside fit)  -> {verdict} the "
          f"{bar} bar")
    return {"reference": med["ref"], "stackit": med["fit"], "ratio": ratio,
            "epoch_ratio": med["epoch"] / med["ref"], "cpu_ratio": med["fit_cpu"] / med["ref_cpu"]}
