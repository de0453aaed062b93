"""Cost of global-norm clipping (tflearn's default, `clip_gradients=5.0`) in a compiled step.

    python benchmarks/clip_cost.py [--rounds 30]

Times 32 adam steps of the MLP 784-256-256-10 (batch 128) in one `lax.scan`, the contenders
alternated, without clipping, with `optax.clip_by_global_norm`, and with stackit's
`_transforms.clip_by_global_norm` (the same rule as one multiply by `min(1, max_norm / norm)`
instead of optax's select of a per-element division). Reports the median CPU time per step
(steadier than wall time on a busy machine) and each clipping's cost over no clipping. Twice:
with a bound the gradients stay under, and with one that clips every step.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from stackit._transforms import clip_by_global_norm  # noqa: E402

SIZES, BATCH, PER_CHUNK = (784, 256, 256, 10), 128, 32


def chunk_of(tx: optax.GradientTransformation, x, y):
    """A jitted scan of PER_CHUNK training steps of the MLP on one batch, and its start state."""
    keys = jax.random.split(jax.random.PRNGKey(0), len(SIZES) - 1)
    params = [{"W": 0.02 * jax.random.normal(k, (a, b)), "b": jnp.zeros(b)}
              for k, a, b in zip(keys, SIZES[:-1], SIZES[1:], strict=True)]

    def loss(p, x, y):
        for layer in p[:-1]:
            x = jax.nn.relu(x @ layer["W"] + layer["b"])
        return optax.softmax_cross_entropy(x @ p[-1]["W"] + p[-1]["b"], y).mean()

    @functools.partial(jax.jit, donate_argnums=0)
    def chunk(state):
        def step(state, _):
            params, opt_state = state
            updates, opt_state = tx.update(jax.grad(loss)(params, x, y), opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None
        return jax.lax.scan(step, state, None, length=PER_CHUNK)[0]

    return chunk, (params, tx.init(params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    x = jax.random.normal(jax.random.PRNGKey(1), (BATCH, SIZES[0]))
    y = jax.nn.one_hot(jnp.arange(BATCH) % SIZES[-1], SIZES[-1])
    print(f"jax {jax.__version__}, optax {optax.__version__}, {jax.devices()[0].device_kind}; "
          f"MLP {SIZES}, batch {BATCH}, {PER_CHUNK} steps per call, {args.rounds} rounds")
    for bound, note in ((1e6, "never clips"), (1e-4, "clips every step")):
        contenders = {"none": optax.adam(1e-3),
                      "optax": optax.chain(optax.clip_by_global_norm(bound), optax.adam(1e-3)),
                      "stackit": optax.chain(clip_by_global_norm(bound), optax.adam(1e-3))}
        runs = {}
        for name, tx in contenders.items():
            chunk, state = chunk_of(tx, x, y)
            runs[name] = [chunk, jax.block_until_ready(chunk(state)), []]
        for _ in range(args.rounds):
            for run in runs.values():
                start = time.process_time()
                run[1] = jax.block_until_ready(run[0](run[1]))
                run[2].append((time.process_time() - start) / PER_CHUNK)
        base = statistics.median(runs["none"][2])
        print(f"bound {bound:g} ({note}):")
        for name, (_, _, times) in runs.items():
            per_step = statistics.median(times)
            print(f"  {name:8s} {per_step * 1e3:.3f} ms CPU/step  cost {per_step / base - 1:+.1%}")


if __name__ == "__main__":
    main()
