"""What an exported model costs: export, file size, load, compilation and calls.

    python benchmarks/export.py [--batch-size 128] [--calls 200] [--repeats 5]

Exports the `mlp_vs_jax.py` MLP (784-256-256-10, untrained: the values do not matter) with
`model.export`, loads it with `stackit.load_exported`, and reports: the export time, the file
size against the parameters' bytes, the load time, the first call at `--batch-size` (it
compiles), the first call at another batch size (it compiles again), then the best per-call
time over `--repeats` rounds of `--calls` calls of the loaded artifact and of
`model.predict(X, batch_size)` on the same rows, interleaved. Run it with
`STACKIT_COMPILATION_CACHE=0` for cold compilations.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlp_vs_jax import stackit_mlp  # noqa: E402

import stackit  # noqa: E402


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = stackit_mlp(args.batch_size, seed=0)
    x = np.random.default_rng(0).normal(size=(args.batch_size, 784)).astype(np.float32)
    n_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(model.train_state.params))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = model.export(os.path.join(folder, "mlp"))
        t_export = time.perf_counter() - start
        size = os.path.getsize(path)
        start = time.perf_counter()
        run = stackit.load_exported(path)
        t_load = time.perf_counter() - start
    start = time.perf_counter()
    run(x)
    t_first = time.perf_counter() - start
    start = time.perf_counter()
    run(x[: max(1, args.batch_size // 2 + 1)])
    t_other = time.perf_counter() - start
    model.predict(x, batch_size=args.batch_size)  # compiled before timing
    exported, predicted = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        exported.append(_per_call(lambda: run(x), args.calls))
        predicted.append(_per_call(lambda: model.predict(x, batch_size=args.batch_size),
                                   args.calls))
    print(f"jax {jax.__version__} on {jax.default_backend()}; batch {args.batch_size}")
    print(f"export {t_export:.3f} s; file {size / 1e6:.2f} MB for {n_bytes / 1e6:.2f} MB of "
          f"parameters; load {t_load * 1e3:.1f} ms")
    print(f"first call {t_first:.3f} s; first call at another batch size {t_other:.3f} s")
    print(f"per call (best of {args.repeats} x {args.calls}): exported "
          f"{min(exported) * 1e3:.3f} ms, predict {min(predicted) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
