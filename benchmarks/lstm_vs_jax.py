"""Training throughput of an LSTM text classifier: stackit's `fit` vs a hand-written JAX loop.

    python benchmarks/lstm_vs_jax.py [--epochs 1] [--samples 6400] [--repeats 3]
                                     [--batch-size 32] [--scan-reference]

The network (tflearn's examples/nlp/lstm.py without dropout): ids (length 100, vocabulary
10,000) → embedding 128 → LSTM 128 (last output) → fully connected 2, softmax; mean softmax
cross-entropy, adam lr 1e-3, batch 32. Both trainers do the same math: the LSTM is TensorFlow's
`BasicLSTMCell` (gates `[i, j, f, o]`, forget bias 1), its input projection one matmul over the
whole sequence before a `lax.scan` that does only `h @ U` per step; stackit runs with
`clip_gradients=0.0` (its default global-norm clipping is work the reference does not do).

- reference: `_common.ReferenceTrainer`, one jitted donated step per batch, data on the device;
  with `--scan-reference`, the same step fused 32 to a dispatch in a `lax.scan`, as stackit
  fuses its steps (on XLA:CPU a scanned LSTM step runs much faster than the same step jitted
  alone, so this is the like-for-like reference there).
- stackit: `model.fit(...)` end to end (see benchmarks/README.md).

Data: random ids in [1, 10000) and random labels; speed does not depend on the values.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import stackit  # noqa: E402
from stackit.layers.core import fully_connected, input_data  # noqa: E402
from stackit.layers.embedding_ops import embedding  # noqa: E402
from stackit.layers.estimator import regression  # noqa: E402
from stackit.layers.recurrent import lstm  # noqa: E402

VOCAB, LENGTH, EMBED, UNITS, CLASSES = 10_000, 100, 128, 128, 2
#: The bar from the issue for this benchmark (the MLP and LeNet ones use `_common.RATIO_BAR`).
RATIO_BAR = 0.95


def token_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(ids int32 (n, LENGTH), one-hot float32 (n, 2), description)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (n, LENGTH), dtype=np.int32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, n)]
    return x, y, f"random ids, {n:,} sequences of {LENGTH}, vocabulary {VOCAB:,}"


def init_lstm(key):
    """stackit's defaults: embedding and dense truncated normal 0.02, LSTM Glorot uniform over
    the stacked [W; U] kernel, zero biases."""
    k_emb, k_rnn, k_out = jax.random.split(key, 3)
    limit = (6.0 / (EMBED + UNITS + 4 * UNITS)) ** 0.5
    kernel = jax.random.uniform(k_rnn, (EMBED + UNITS, 4 * UNITS), jnp.float32, -limit, limit)
    normal = lambda k, shape: 0.02 * jax.random.truncated_normal(  # noqa: E731
        k, -2.0, 2.0, shape, jnp.float32)
    return {"emb": normal(k_emb, (VOCAB, EMBED)), "W": kernel[:EMBED], "U": kernel[EMBED:],
            "b": jnp.zeros((4 * UNITS,), jnp.float32), "out_W": normal(k_out, (UNITS, CLASSES)),
            "out_b": jnp.zeros((CLASSES,), jnp.float32)}


def lstm_logits(params, ids):
    x = jnp.take(params["emb"], ids, axis=0)                        # (batch, time, embed)
    xw = jnp.swapaxes(x, 0, 1) @ params["W"] + params["b"]           # (time, batch, 4 units)

    def step(carry, xw_t):
        c, h = carry
        i, j, f, o = jnp.split(xw_t + h @ params["U"], 4, axis=-1)
        c = c * jax.nn.sigmoid(f + 1.0) + jax.nn.sigmoid(i) * jnp.tanh(j)
        h = jnp.tanh(c) * jax.nn.sigmoid(o)
        return (c, h), None

    zeros = jnp.zeros((ids.shape[0], UNITS), jnp.float32)
    (_, h), _ = lax.scan(step, (zeros, zeros), xw)
    return h @ params["out_W"] + params["out_b"]


def stackit_lstm(batch_size: int, seed: int, **dnn_kwargs) -> stackit.DNN:
    net = input_data(shape=[None, LENGTH], dtype="int32")
    net = embedding(net, input_dim=VOCAB, output_dim=EMBED)
    net = lstm(net, UNITS)
    net = fully_connected(net, CLASSES, activation="softmax")
    net = regression(net, optimizer="adam", learning_rate=_common.LEARNING_RATE,
                     loss="categorical_crossentropy", batch_size=batch_size)
    return stackit.DNN(net, **{"clip_gradients": 0.0, "seed": seed, **dnn_kwargs})


def main() -> dict[str, float]:
    args = _common.parse_args(
        __doc__.splitlines()[0], epochs=1, samples=6400, repeats=3, batch_size=32,
        extra=lambda p: p.add_argument(
            "--scan-reference", action="store_true",
            help="fuse the reference's steps 32 to a lax.scan, as stackit does"))
    x, y, source = token_data(args.samples, args.seed)
    trainer = _common.ScannedReference if args.scan_reference else _common.ReferenceTrainer
    reference = trainer(x, y, args.batch_size, args.seed, init_lstm, lstm_logits)
    ours = _common.StackitTrainer(stackit_lstm(args.batch_size, args.seed), x, y,
                                  args.batch_size)
    return _common.run_comparison(
        f"LSTM classifier (ids {LENGTH} → embedding {VOCAB:,}x{EMBED} → lstm {UNITS} → fc "
        f"{CLASSES} softmax), adam 1e-3", args, source, reference, ours, bar=RATIO_BAR)


if __name__ == "__main__":
    main()
