"""Training throughput of a LeNet-5 convnet: stackit's `fit` vs a hand-written JAX loop.

    python benchmarks/lenet_vs_jax.py [--epochs 2] [--samples 20000] [--repeats 3]
                                      [--batch-size 128]

The network (28x28x1 input, NHWC, 'same' padding as tflearn's defaults):
conv 6@5x5 relu, maxpool 2, conv 16@5x5 relu, maxpool 2, fc 120 relu, fc 84 relu, fc 10 softmax;
mean softmax cross-entropy, adam lr 1e-3, batch 128; stackit with `clip_gradients=0.0` so both
do the same math.

On XLA:CPU stackit runs conv nets one step per dispatch (a `lax.scan` over conv training steps is
much slower there), so the hand-written reference, a per-step jitted loop, is the like-for-like
comparison; on GPU stackit scans `STEPS_PER_CHUNK` steps per dispatch. See benchmarks/README.md.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import stackit  # noqa: E402
from stackit.layers.conv import conv_2d, max_pool_2d  # noqa: E402
from stackit.layers.core import fully_connected, input_data  # noqa: E402
from stackit.layers.estimator import regression  # noqa: E402

CONVS = ((5, 1, 6), (5, 6, 16))   # (kernel, in, out)
DENSE = (7 * 7 * 16, 120, 84, 10)


def init_lenet(key):
    """Convs: uniform(+-sqrt(3/fan_in)) (stackit's conv default); dense: truncated normal 0.02."""
    keys = iter(jax.random.split(key, len(CONVS) + len(DENSE) - 1))
    convs = []
    for k, c_in, c_out in CONVS:
        limit = math.sqrt(3.0 / (k * k * c_in))
        w = jax.random.uniform(next(keys), (k, k, c_in, c_out), jnp.float32, -limit, limit)
        convs.append({"W": w, "b": jnp.zeros((c_out,), jnp.float32)})
    dense = []
    for n_in, n_out in zip(DENSE[:-1], DENSE[1:], strict=True):
        w = 0.02 * jax.random.truncated_normal(next(keys), -2.0, 2.0, (n_in, n_out), jnp.float32)
        dense.append({"W": w, "b": jnp.zeros((n_out,), jnp.float32)})
    return {"conv": convs, "dense": dense}


def lenet_logits(params, x):
    for layer in params["conv"]:
        x = lax.conv_general_dilated(x, layer["W"], (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        x = jax.nn.relu(x + layer["b"])
        x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
    x = x.reshape(x.shape[0], -1)
    for layer in params["dense"][:-1]:
        x = jax.nn.relu(x @ layer["W"] + layer["b"])
    return x @ params["dense"][-1]["W"] + params["dense"][-1]["b"]


def stackit_lenet(batch_size: int, seed: int, **dnn_kwargs) -> stackit.DNN:
    net = input_data(shape=[None, 28, 28, 1])
    net = conv_2d(net, 6, 5, activation="relu")
    net = max_pool_2d(net, 2)
    net = conv_2d(net, 16, 5, activation="relu")
    net = max_pool_2d(net, 2)
    net = fully_connected(net, 120, activation="relu")
    net = fully_connected(net, 84, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    net = regression(net, optimizer="adam", learning_rate=_common.LEARNING_RATE,
                     loss="categorical_crossentropy", batch_size=batch_size)
    # clip_gradients=0.0 (unless overridden): no global-norm clipping, so both trainers do
    # the same math.
    return stackit.DNN(net, **{"clip_gradients": 0.0, "seed": seed, **dnn_kwargs})


def main() -> dict[str, float]:
    args = _common.parse_args(__doc__.splitlines()[0], epochs=2, samples=20_000, repeats=3)
    x, y, source = _common.mnist_like(args.samples, args.seed)
    x = x.reshape(-1, 28, 28, 1)
    reference = _common.ReferenceTrainer(x, y, args.batch_size, args.seed, init_lenet,
                                         lenet_logits)
    ours = _common.StackitTrainer(stackit_lenet(args.batch_size, args.seed), x, y,
                                  args.batch_size)
    return _common.run_comparison("LeNet-5 (28x28x1, conv6-pool-conv16-pool-120-84-10), adam 1e-3",
                                  args, source, reference, ours)


if __name__ == "__main__":
    main()
