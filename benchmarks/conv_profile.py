"""Where a LeNet-5 training step spends its time on this backend: each piece compiled alone.

    python benchmarks/conv_profile.py [--batch-size 128] [--rounds 30]

The training step of `lenet_vs_jax.py` (hand-written JAX, the same math as stackit's) is cut
into pieces, each jitted on its own and timed on the activations it sees in the step: for each
convolution the forward pass, the gradient with respect to its input (not for the first: the
step needs none) and to its kernel, and the first one's forward pass as stackit computes it; the
pools (forward and backward; also as stackit computes them), the dense layers (forward and
backward), the loss and the adam update; then the whole step. The pieces are interleaved over
`--rounds` rounds and the medians reported, with each piece's share of their sum. A piece alone
may run faster or slower than it does fused into the step, so the shares are a guide, not an
accounting; the point is which operations dominate, to compare with another library's kernels
for the same shapes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from lenet_vs_jax import init_lenet, lenet_logits  # noqa: E402

from stackit.layers._xla_cpu import conv_2d  # noqa: E402
from stackit.layers.pooling import MaxPool2D  # noqa: E402

DIMS = ("NHWC", "HWIO", "NHWC")


def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DIMS)


def pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")


def tiled_pool(x):
    """stackit's max pool where the windows tile the input: a maximum over a reshaped view."""
    return MaxPool2D(2).apply({}, {}, x, training=True, key=None)[0]


def pieces(params, x, y):
    """{name: (jitted function, its arguments)} for every piece of one training step."""
    out = {}
    h = x
    for i, layer in enumerate(params["conv"], 1):
        w = layer["W"]
        y_conv = conv(h, w)
        _, vjp = jax.vjp(conv, h, w)
        out[f"conv{i} forward"] = (jax.jit(conv), (h, w))
        if i == 1:  # stackit's forward pass for few input channels (the step needs no dx)
            out["conv1 forward, stackit"] = (jax.jit(
                lambda h, w: conv_2d(h, w, (1, 1), "SAME")), (h, w))
        else:
            out[f"conv{i} grad input"] = (jax.jit(lambda g, vjp=vjp: vjp(g)[0]), (y_conv,))
        out[f"conv{i} grad kernel"] = (jax.jit(lambda g, vjp=vjp: vjp(g)[1]), (y_conv,))
        a = jax.nn.relu(y_conv + layer["b"])
        pooled, pool_vjp = jax.vjp(pool, a)
        out[f"pool{i} forward+backward"] = (
            jax.jit(lambda a, g: (pool(a), jax.vjp(pool, a)[1](g))), (a, pooled))
        out[f"pool{i} forward+backward, stackit"] = (
            jax.jit(lambda a, g: (tiled_pool(a), jax.vjp(tiled_pool, a)[1](g))), (a, pooled))
        h = pooled
    flat = h.reshape(h.shape[0], -1)

    def dense(ps, v):
        for layer in ps[:-1]:
            v = jax.nn.relu(v @ layer["W"] + layer["b"])
        return v @ ps[-1]["W"] + ps[-1]["b"]

    def dense_loss(ps, v):
        return optax.softmax_cross_entropy(dense(ps, v), y).mean()

    out["dense forward+backward+loss"] = (jax.jit(jax.grad(dense_loss, argnums=(0, 1))),
                                          (params["dense"], flat))
    tx = optax.adam(_common.LEARNING_RATE)
    state = tx.init(params)

    def update(g, s, p):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    out["adam update"] = (jax.jit(update), (params, state, params))

    def step(p, s, xb, yb):
        loss_fn = lambda q: optax.softmax_cross_entropy(lenet_logits(q, xb), yb).mean()  # noqa: E731
        g = jax.grad(loss_fn)(p)
        return update(g, s, p)

    out["whole step"] = (jax.jit(step), (params, state, x, y))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    xs, ys, source = _common.mnist_like(args.batch_size)
    x = jnp.asarray(xs.reshape(-1, 28, 28, 1))
    y = jnp.asarray(ys)
    params = init_lenet(jax.random.PRNGKey(0))
    table = pieces(params, x, y)
    times: dict[str, list[float]] = {name: [] for name in table}
    for fn, fn_args in table.values():
        jax.block_until_ready(fn(*fn_args))  # compile
    for _ in range(args.rounds):
        for name, (fn, fn_args) in table.items():
            start = time.perf_counter()
            for _ in range(5):
                out = fn(*fn_args)
            jax.block_until_ready(out)
            times[name].append((time.perf_counter() - start) / 5)
    med = {name: statistics.median(t) for name, t in times.items()}
    parts = sum(v for k, v in med.items() if k != "whole step" and not k.endswith("stackit"))
    dev = jax.devices()[0]
    print(f"LeNet-5 training step, batch {args.batch_size}, {jax.default_backend()} "
          f"({dev.device_kind}), jax {jax.__version__}; data: {source}")
    print(f"  {'piece':32s} {'median ms':>10s} {'share':>7s}")
    for name, value in med.items():
        share = "" if name == "whole step" or name.endswith("stackit") else \
            f"{100 * value / parts:6.1f}%"
        print(f"  {name:32s} {value * 1e3:10.3f} {share:>7s}")
    print(f"  {'sum of the pieces':32s} {parts * 1e3:10.3f}")


if __name__ == "__main__":
    main()
