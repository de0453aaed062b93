"""Training throughput of an MLP 784-256-256-10: stackit's `fit` vs a hand-written JAX loop.

    python benchmarks/mlp_vs_jax.py [--epochs 3] [--samples 60000] [--repeats 5] [--batch-size 128]

Both trainers do the same math: relu-relu-softmax MLP, mean softmax cross-entropy, adam
(lr 1e-3, b1 .9, b2 .999, eps 1e-8), batch 128. stackit runs with `clip_gradients=0.0`: its
default (5.0, global-norm clipping) is extra work the reference does not do.

- reference: `_common.ReferenceTrainer`, one jitted donated step per batch, data on the device,
  batches gathered on the device from a per-epoch permutation.
- stackit: `model.fit(X, Y, n_epoch=..., verbose=0, snapshot_epoch=False)` end to end: input
  checks, X/Y to the device, `STEPS_PER_CHUNK` steps fused in one `lax.scan` per dispatch, last
  batch padded and masked, loss + accuracy accumulated on the device, NaN guard on each step.

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import stackit  # noqa: E402
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


def stackit_mlp(batch_size: int, seed: int) -> stackit.DNN:
    net = input_data(shape=[None, 784])
    net = fully_connected(net, 256, activation="relu")
    net = fully_connected(net, 256, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    net = regression(net, optimizer="adam", learning_rate=_common.LEARNING_RATE,
                     loss="categorical_crossentropy", batch_size=batch_size)
    # clip_gradients=0.0: no global-norm clipping, so both trainers do the same math.
    return stackit.DNN(net, clip_gradients=0.0, seed=seed)


def main() -> dict[str, float]:
    args = _common.parse_args(__doc__.splitlines()[0], epochs=3, samples=60_000, repeats=5)
    x, y, source = _common.mnist_like(args.samples, args.seed)
    reference = _common.ReferenceTrainer(x, y, args.batch_size, args.seed, init_mlp, mlp_logits)
    ours = _common.StackitTrainer(stackit_mlp(args.batch_size, args.seed), x, y, args.batch_size)
    return _common.run_comparison("MLP 784-256-256-10, adam 1e-3", args, source, reference, ours)


if __name__ == "__main__":
    main()
