"""A two-input model trains as fast as the one-input model of the same size.

    python benchmarks/two_inputs.py [--epochs 3] [--samples 60000] [--repeats 5] [--batch-size 128]

Both are stackit `fit` on the same MNIST-like data, adam, no clipping:
- one input: 784 -> dense 256 relu -> dense 256 relu -> dense 10 softmax;
- two inputs: the 784 pixels split into two inputs of 392 (top and bottom halves), joined by
  `merge(..., 'concat')`, then the same layers: the same parameters and the same math.
Runs alternate (A B A B ...); medians of samples/s are reported with their ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import stackit  # noqa: E402
from stackit.layers import fully_connected, input_data, merge, regression  # noqa: E402


def head(net, batch_size):
    net = fully_connected(net, 256, activation="relu")
    net = fully_connected(net, 256, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    return regression(net, optimizer="adam", learning_rate=_common.LEARNING_RATE,
                      batch_size=batch_size)


def one_input(batch_size: int, seed: int) -> stackit.DNN:
    return stackit.DNN(head(input_data(shape=[None, 784], name="pixels"), batch_size),
                       clip_gradients=0.0, seed=seed)


def two_inputs(batch_size: int, seed: int) -> stackit.DNN:
    top = input_data(shape=[None, 392], name="top")
    bottom = input_data(shape=[None, 392], name="bottom")
    return stackit.DNN(head(merge([top, bottom], "concat"), batch_size), clip_gradients=0.0,
                       seed=seed)


def main() -> float:
    args = _common.parse_args(__doc__.splitlines()[0], epochs=3, samples=60_000, repeats=5)
    x, y, source = _common.mnist_like(args.samples, args.seed)
    _common.header("one input vs two inputs of the same size, adam 1e-3", args, source)
    contenders = {
        "one input": (one_input(args.batch_size, args.seed), x),
        "two inputs": (two_inputs(args.batch_size, args.seed),
                       {"top": x[:, :392], "bottom": x[:, 392:]}),
    }

    def run(name: str, epochs: int) -> float:
        model, data = contenders[name]
        start = time.perf_counter()
        model.fit(data, y, n_epoch=epochs, batch_size=args.batch_size, verbose=0,
                  snapshot_epoch=False)
        jax.block_until_ready(model.train_state)
        return epochs * len(y) / (time.perf_counter() - start)

    for name in contenders:  # compile + one epoch each
        run(name, 1)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(args.repeats):
        for name in contenders:  # interleaved, so drift in the machine's speed hits both
            rates[name].append(run(name, args.epochs))
        print(f"  repeat {r + 1}/{args.repeats}: " + "  ".join(
            f"{name} {rates[name][-1]:>9,.0f}" for name in contenders) + "  samples/s",
              flush=True)
    med = {name: statistics.median(v) for name, v in rates.items()}
    ratio = med["two inputs"] / med["one input"]
    print()
    for name in contenders:
        print(f"  {name:12s} median {med[name]:>9,.0f} samples/s "
              f"(min {min(rates[name]):,.0f}, max {max(rates[name]):,.0f})")
    print(f"RESULT: two inputs / one input = {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
