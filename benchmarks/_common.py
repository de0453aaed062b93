"""Shared harness of the stackit-vs-hand-written-JAX benchmarks.

Not a public module: the scripts next to it (`python benchmarks/<name>.py`) import it. It holds
the data, the hand-written reference trainer (generic over the model), the stackit runner and
the timing/reporting; each script supplies only its model, written twice (plain JAX and stackit).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")  # before anything imports keras

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
    parser.add_argument("--json", action="store_true",
                        help="also print the result as one JSON line (prefix 'BENCH_JSON ')")
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
    device. The train state (params, optimizer state, model state) is donated to the step. Step
    indices are device scalars made once, so a step copies nothing from the host. The last
    partial batch of an epoch is dropped (and not counted). Nothing is read back until the end
    of `run`.

    Args:
        x, y: Inputs and one-hot targets (numpy).
        batch_size: Batch size.
        seed: Seed of the init, the permutations and the per-step keys (dropout).
        init_fn: `init_fn(key) -> params`.
        logits_fn: `logits_fn(params, x) -> logits`; the loss is mean softmax cross-entropy.
        tx: The optax optimizer; defaults to adam(`LEARNING_RATE`).
        stateful: The model has state besides its parameters (batch-norm statistics) or needs
            a random key (dropout): then `init_fn(key) -> (params, model_state)` and
            `logits_fn(params, model_state, x, key) -> (logits, new_model_state)`.
    """

    #: How the report names this trainer.
    label = "jax reference (per-step jit)"

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                 init_fn: Callable, logits_fn: Callable, *,
                 tx: optax.GradientTransformation | None = None, stateful: bool = False):
        self.n, self.batch_size = len(x), batch_size
        self.steps = self.n // batch_size
        self.xs, self.ys = jax.device_put(x), jax.device_put(y)
        tx = tx or optax.adam(LEARNING_RATE)
        if not stateful:  # the plain form, adapted to the stateful one
            plain_init, plain_logits = init_fn, logits_fn
            init_fn = lambda key: (plain_init(key), ())  # noqa: E731
            logits_fn = lambda params, aux, x, key: (plain_logits(params, x), aux)  # noqa: E731
        init_key, self.key = jax.random.split(jax.random.PRNGKey(seed))
        params, aux = init_fn(init_key)
        self.state = (params, tx.init(params), aux)
        self.step_ids = [jnp.asarray(i, jnp.int32) for i in range(self.steps)]

        def loss_fn(params, aux, x, y, key):
            logits, aux = logits_fn(params, aux, x, key)
            return optax.softmax_cross_entropy(logits, y).mean(), aux

        def step(state, xs, ys, perm, i, key=None):
            """One training step on the `i`-th batch of `perm`."""
            params, opt_state, aux = state
            key = jax.random.fold_in(jax.random.PRNGKey(0) if key is None else key, i)
            rows = lax.dynamic_slice_in_dim(perm, i * batch_size, batch_size)
            xb, yb = jnp.take(xs, rows, axis=0), jnp.take(ys, rows, axis=0)
            (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, aux, xb, yb, key)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, aux), loss

        @jax.jit
        def permutation(key):
            key, sub = jax.random.split(key)
            return key, jax.random.permutation(sub, self.n).astype(jnp.int32)

        self.step = step
        self.train_step = jax.jit(step, donate_argnums=(0,))
        self.permutation = permutation

    def run(self, epochs: int) -> int:
        """Trains `epochs` epochs, waits for the device, returns the samples trained on."""
        loss = None
        for _ in range(epochs):
            self.key, perm = self.permutation(self.key)
            for i in self.step_ids:
                self.state, loss = self.train_step(self.state, self.xs, self.ys, perm, i,
                                                   self.key)
        jax.block_until_ready((self.state, loss))
        return epochs * self.steps * self.batch_size


class ScannedReference(ReferenceTrainer):
    """The reference's step, `per_chunk` steps (at most an epoch's) to one jitted `lax.scan`;
    full chunks only. Takes the same arguments as `ReferenceTrainer`."""

    label = "jax reference (steps in a lax.scan)"

    def __init__(self, *args, per_chunk: int = 32, **kwargs):
        super().__init__(*args, **kwargs)
        per_chunk = min(per_chunk, self.steps)
        step = self.step

        @functools.partial(jax.jit, donate_argnums=(0,))
        def chunk(state, xs, ys, perm, first, key):
            steps = first + jnp.arange(per_chunk, dtype=jnp.int32)
            state, losses = lax.scan(lambda s, i: step(s, xs, ys, perm, i, key), state, steps)
            return state, losses[-1]

        self.chunk, self.per_chunk = chunk, per_chunk
        self.firsts = [jnp.asarray(c * per_chunk, jnp.int32)
                       for c in range(self.steps // per_chunk)]

    def run(self, epochs: int) -> int:
        loss = None
        for _ in range(epochs):
            self.key, perm = self.permutation(self.key)
            for first in self.firsts:
                self.state, loss = self.chunk(self.state, self.xs, self.ys, perm, first,
                                              self.key)
        jax.block_until_ready((self.state, loss))
        return epochs * len(self.firsts) * self.per_chunk * self.batch_size


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
                 label: str = "stackit fit() end to end", user_defaults: bool = False):
        self.model, self.x, self.y, self.batch_size = model, x, y, batch_size
        # user_defaults: fit as a user calls it (display on, show_metric=True, snapshot_epoch
        # left at its default) instead of verbose=0, snapshot_epoch=False.
        self.fit_kwargs = ({"show_metric": True} if user_defaults
                           else {"verbose": 0, "snapshot_epoch": False})
        self.callbacks, self.label = list(callbacks or []), label
        self.clock = EpochClock()
        self.epoch_seconds: list[float] = []

    def run(self, epochs: int) -> int:
        self.clock.times.clear()
        self.model.fit(self.x, self.y, n_epoch=epochs, batch_size=self.batch_size,
                       callbacks=[*self.callbacks, self.clock], **self.fit_kwargs)
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
    result = {"reference": med["ref"], "stackit": med["fit"], "ratio": ratio,
              "epoch_ratio": med["epoch"] / med["ref"],
              "cpu_ratio": med["fit_cpu"] / med["ref_cpu"]}
    if getattr(args, "json", False):
        emit(result)
    return result



# -- three-way races (run_all.py's cases) ---------------------------------------------------------

JSON_PREFIX = "BENCH_JSON "


def emit(result: dict) -> None:
    """Prints `result` as the one machine-readable line `run_all.py` collects."""
    print(JSON_PREFIX + json.dumps(result), flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class KerasTrainer:
    """Keras 3 (JAX backend) `model.fit(X, Y, batch_size, epochs, shuffle=True)` end to end
    (its default display, as stackit's),
    compiled with categorical cross-entropy, accuracy and `steps_per_execution`.

    Args:
        build: `build() -> keras.Model` (softmax output).
        optimizer: `"adam"` (lr `LEARNING_RATE`, eps 1e-8) or `("momentum", lr)` (SGD, 0.9).
    """

    def __init__(self, build: Callable, x: np.ndarray, y: np.ndarray, batch_size: int,
                 steps_per_execution: int = 1, optimizer="adam", seed: int = 0):
        import keras
        keras.utils.set_random_seed(seed)
        if optimizer == "adam":
            opt = keras.optimizers.Adam(LEARNING_RATE, epsilon=1e-8)
        else:
            opt = keras.optimizers.SGD(optimizer[1], momentum=0.9)
        self.model = build()
        self.model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"],
                           steps_per_execution=steps_per_execution)
        self.x, self.y, self.batch_size = x, y, batch_size

    def run(self, epochs: int) -> int:
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=epochs, shuffle=True)
        return epochs * len(self.x)


def race(makers: dict[str, Callable[[], object]], epochs: int, repeats: int,
         drop_factor: float | None = 2.0, droppable: tuple[str, ...] = ("jax-scan",)
         ) -> dict[str, dict]:
    """Builds each contender (`makers[name]() -> trainer` with a `run(epochs) -> samples`),
    times its first epoch (build + compile + 1 epoch), then times `repeats` rounds of `epochs`
    epochs, the contenders alternated A B C A B C so that drift in the machine's speed hits all
    alike. Returns per contender the median samples/s (min, max) and the first-epoch seconds.

    Variants of one contender are named `family-variant` (`jax-step`, `jax-scan`); only the
    fastest of a family counts, so a `droppable` one whose first epoch took over `drop_factor`
    times its family's quickest is left out of the rounds (samples/s None; `drop_factor=None`
    keeps all): on XLA:CPU a `lax.scan` over conv steps runs many times slower, and timing it
    again would only cost minutes. (Not Keras: its second variant's first epoch is short because
    the first paid Keras's one-time costs.)
    """
    trainers, first = {}, {}
    jax.block_until_ready(jax.jit(jnp.sin)(1.0))  # the backend's start-up, paid by nobody
    for name, make in makers.items():
        start = time.perf_counter()
        trainers[name] = make()
        trainers[name].run(1)
        first[name] = time.perf_counter() - start
        print(f"  {name}: first epoch (build + compile) {first[name]:.1f} s", flush=True)
    family = lambda name: name.split("-")[0]  # noqa: E731
    quickest = {family(n): min(t for m, t in first.items() if family(m) == family(n))
                for n in first}
    dropped = {n for n, t in first.items()
               if n in droppable and drop_factor and t > drop_factor * quickest[family(n)]}
    if dropped:
        print(f"  left out of the rounds (first epoch > {drop_factor}x its family's): "
              f"{', '.join(sorted(dropped))}")
    rates: dict[str, list[float]] = {name: [] for name in trainers if name not in dropped}
    for r in range(repeats):
        for name in rates:
            start = time.perf_counter()
            samples = trainers[name].run(epochs)
            rates[name].append(samples / (time.perf_counter() - start))
        print(f"  round {r + 1}/{repeats}: " + ", ".join(
            f"{name} {v[-1]:,.0f}" for name, v in rates.items()) + " samples/s", flush=True)
    return {name: {"samples_per_s": statistics.median(v) if v else None,
                   "min": min(v, default=None), "max": max(v, default=None),
                   "first_epoch_s": first[name]}
            for name, v in ((n, rates.get(n, [])) for n in first)}


def best_of(results: dict[str, dict], prefix: str) -> tuple[str, float] | None:
    """The fastest contender whose name starts with `prefix`: (name, samples/s)."""
    named = [(name, r["samples_per_s"]) for name, r in results.items()
             if name.startswith(prefix) and r["samples_per_s"] is not None]
    return max(named, key=lambda item: item[1]) if named else None
