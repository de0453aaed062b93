"""Streamed training vs data on the device: one MLP 784-256-256-10 epoch, three ways.

    python benchmarks/streaming.py [--epochs 3] [--samples 60000] [--repeats 5]
                                   [--batch-size 128] [--no-shuffle]

- device: `fit(X, Y)` with numpy arrays, copied to the device once; each chunk of steps
  gathers its batches there from a permutation.
- memmap: the same X and Y as numpy memmaps of a temporary file (in the page cache): a lazy
  array, so each chunk's rows are gathered on the host, converted and sent to the device, one
  chunk ahead of the compute, in a background thread.
- generator: `fit(gen(), steps_per_epoch=...)` with a Python generator yielding `(X, Y)`
  batches sliced from host arrays, in order (a generator owns its order: not shuffled); each
  batch is checked, packed into its chunk and sent one chunk ahead.

The three `fit` calls are interleaved (device, memmap, generator, device, ...) so drift in the
machine's speed hits all alike. Each call runs `--epochs` epochs; the epochs after a call's
first (the steady state: the first also waits for X/Y to reach the device) are timed by a
callback, and the median epoch time per trainer is reported with the ratio streamed / device.
The target is a streamed epoch within 10% of the on-device one (ratio <= 1.10).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from mlp_vs_jax import stackit_mlp  # noqa: E402

TARGET = 1.10


def extra_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-shuffle", action="store_true",
                        help="device and memmap read the rows in order (as the generator does)")


def memmaps(folder: str, x: np.ndarray, y: np.ndarray) -> tuple[np.memmap, np.memmap]:
    out = []
    for name, array in (("x", x), ("y", y)):
        mapped = np.memmap(os.path.join(folder, f"{name}.bin"), array.dtype, "w+",
                           shape=array.shape)
        mapped[:] = array
        mapped.flush()
        out.append(np.memmap(mapped.filename, array.dtype, "r", shape=array.shape))
    return out[0], out[1]


def batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """(X, Y) batches of the host arrays, in order, epoch after epoch."""
    while True:
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]


class Trainer:
    """One model fitted on one form of the data; `run` returns the steady-state epoch times."""

    def __init__(self, label: str, x, y, args, generator: bool = False):
        self.label, self.x, self.y, self.args, self.generator = label, x, y, args, generator
        self.model = stackit_mlp(args.batch_size, args.seed)
        self.clock = _common.EpochClock()
        self.epochs: list[float] = []
        self.calls: list[float] = []
        self.cpu: list[float] = []  # CPU seconds of this process (all threads) per fit call

    def run(self, epochs: int) -> None:
        self.clock.times.clear()
        common = {"n_epoch": epochs, "verbose": 0, "snapshot_epoch": False,
                  "callbacks": [self.clock]}
        start, cpu = time.perf_counter(), time.process_time()
        if self.generator:
            steps = -(-len(self.x) // self.args.batch_size)
            self.model.fit(batches(self.x, self.y, self.args.batch_size), steps_per_epoch=steps,
                           **common)
        else:
            self.model.fit(self.x, self.y, batch_size=self.args.batch_size,
                           shuffle=not self.args.no_shuffle, **common)
        jax.block_until_ready(self.model.train_state)
        self.calls.append(time.perf_counter() - start)
        self.cpu.append(time.process_time() - cpu)
        self.epochs.extend(self.clock.times[1:] or self.clock.times)


def main() -> dict[str, float]:
    args = _common.parse_args(__doc__.splitlines()[0], epochs=3, samples=60_000, repeats=5,
                              extra=extra_options)
    x, y, source = _common.mnist_like(args.samples, args.seed)
    folder = tempfile.mkdtemp(prefix="stackit-bench-stream-")
    try:
        mx, my = memmaps(folder, x, y)
        trainers = [Trainer("device (arrays)", x, y, args),
                    Trainer("memmap (lazy, streamed)", mx, my, args),
                    Trainer("generator (streamed)", x, y, args, generator=True)]
        _common.header("MLP 784-256-256-10: streamed epochs vs data on the device", args,
                       source)
        print(f"shuffle: {'no' if args.no_shuffle else 'device and memmap yes'}; generator in "
              f"order")
        for trainer in trainers:  # compile + one epoch
            trainer.run(1)
            trainer.epochs.clear()
            trainer.calls.clear()
            trainer.cpu.clear()
        for r in range(args.repeats):
            for trainer in trainers:
                trainer.run(args.epochs)
            last = max(1, args.epochs - 1)  # the epochs this call added
            print(f"  repeat {r + 1}/{args.repeats}: " + "  ".join(
                f"{t.label.split()[0]} {statistics.median(t.epochs[-last:]):.3f} s"
                for t in trainers) + "  (median epoch of this call)", flush=True)
        return report(trainers, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(trainers: list[Trainer], args) -> dict[str, float]:
    device = statistics.median(trainers[0].epochs)
    print()
    print(f"  {'':26s} {'median epoch':>12s} {'min':>8s} {'max':>8s} {'samples/s':>10s} "
          f"{'vs device':>9s}")
    ratios = {}
    for trainer in trainers:
        med = statistics.median(trainer.epochs)
        ratios[trainer.label] = med / device
        print(f"  {trainer.label:26s} {med:>10.3f} s {min(trainer.epochs):>8.3f} "
              f"{max(trainer.epochs):>8.3f} {args.samples / med:>10,.0f} {med / device:>9.3f}")
    print("  fit() calls, median wall time: " + ", ".join(
        f"{t.label.split()[0]} {statistics.median(t.calls):.2f} s" for t in trainers))
    cpu = [statistics.median(t.cpu) for t in trainers]
    print("  fit() calls, median CPU time (all threads; steadier on a busy machine): " +
          ", ".join(f"{t.label.split()[0]} {c:.2f} s ({c / cpu[0]:.3f})"
                    for t, c in zip(trainers, cpu, strict=True)))
    print()
    for trainer in trainers[1:]:
        ratio = ratios[trainer.label]
        verdict = "within" if ratio <= TARGET else "OUTSIDE"
        print(f"RESULT: {trainer.label} / device = {ratio:.3f} per epoch -> {verdict} the "
              f"{TARGET:.2f} target")
    return ratios


if __name__ == "__main__":
    main()
