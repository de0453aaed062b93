"""Cost of one compiled training step of the MLP 784-256-256-10: stackit vs hand-written JAX.

    python benchmarks/step_cost.py [--rounds 40] [--batch 128] [--variants ref,stackit,stackit-step]

A diagnostic, not the headline benchmark (that is mlp_vs_jax.py). It times blocks of 32 steps,
with no input checks, epochs or metric read-backs around them, many times and interleaved, and
reports the best and median wall time and the median CPU time per step (CPU time is the steadier
number on a busy machine). It also counts the `copy` instructions XLA put in each compiled step,
and the bytes they move per step: copies of the train state inside a step are pure overhead.

Variants:
  ref            the per-step reference of mlp_vs_jax.py (one jit call per step)
  jax-scan       the same step in a `lax.scan` over 32 steps (one dispatch per 32 steps)
  stackit        stackit's `train_chunk` as built by `DNN` (scan of STEPS_PER_CHUNK on dense nets)
  stackit-step   stackit's `train_chunk` with one step per dispatch (as it runs conv nets on CPU)

On CPU stackit skips non-finite or padding-only steps with a `lax.cond` whose false branch
passes the state through; its copies column should read 0.00 MB (a `jnp.where` guard copied
every optimizer moment each step).
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import mlp_vs_jax  # noqa: E402

import stackit.network  # noqa: E402

B, K = 128, 32


def copy_bytes(compiled_text: str, steps_per_call: int = 1) -> tuple[int, int]:
    """(copy instructions, bytes they write) per training step, from compiled HLO text.

    Copies inside a while-loop body (or a conditional branch in it) run once per step; the
    others run once per call, i.e. once per `steps_per_call` steps.
    """
    loop = set(re.findall(r"body=(%[\w.\-]+)", compiled_text))
    for group in re.findall(r"branch_computations=\{([^}]*)\}", compiled_text):
        loop |= set(re.findall(r"%[\w.\-]+", group))
    loop |= set(re.findall(r"(?:true|false)_computation=(%[\w.\-]+)", compiled_text))
    n = size = 0.0
    computation = None
    for line in compiled_text.splitlines():
        head = re.match(r"^(?:ENTRY )?(%[\w.\-]+) ", line)
        if head:
            computation = head.group(1)
        found = re.search(r"= (\w+)\[([\d,]*)\]\S* copy\(", line)
        if not found:
            continue
        dtype, dims = found.groups()
        count = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
        bits = int(re.sub(r"\D", "", dtype) or 8)  # f32 -> 32, pred -> 8
        per = 1.0 if computation in loop else 1.0 / steps_per_call
        n, size = n + per, size + per * count * max(bits // 8, 1)
    return round(n), int(size)


def make_variants(names, x, y):
    xs, ys = jax.device_put(x), jax.device_put(y)
    rng = np.random.default_rng(0)
    runners, copies = {}, {}
    for name in names:
        if name == "ref":
            r = _common.ReferenceTrainer(x, y, B, 0, mlp_vs_jax.init_mlp, mlp_vs_jax.mlp_logits)
            perm = r.permutation(r.key)[1]
            ids = r.step_ids[:K]

            def run(r=r, perm=perm, ids=ids):
                loss = None
                for i in ids:
                    r.state, loss = r.train_step(r.state, r.xs, r.ys, perm, i)
                jax.block_until_ready((r.state, loss))

            copies[name] = copy_bytes(r.train_step.lower(r.state, r.xs, r.ys, perm, ids[0])
                                      .compile().as_text())
        elif name == "jax-scan":
            tx = optax.adam(_common.LEARNING_RATE)
            params = mlp_vs_jax.init_mlp(jax.random.PRNGKey(0))
            box = [(params, tx.init(params))]

            def body(state, rows, xs, ys, tx=tx):
                params, opt_state = state

                def loss_fn(p):
                    logits = mlp_vs_jax.mlp_logits(p, jnp.take(xs, rows, axis=0))
                    return optax.softmax_cross_entropy(logits, jnp.take(ys, rows, axis=0)).mean()

                loss, grads = jax.value_and_grad(loss_fn)(params)
                updates, opt_state = tx.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), loss

            @functools.partial(jax.jit, donate_argnums=(0,))
            def chunk(state, xs, ys, idx, body=body):
                return lax.scan(lambda s, rows: body(s, rows, xs, ys), state, idx)

            idx = jax.device_put(rng.permutation(len(x))[:K * B].reshape(K, B).astype(np.int32))

            def run(box=box, chunk=chunk, idx=idx):
                box[0], loss = chunk(box[0], xs, ys, idx)
                jax.block_until_ready((box[0], loss))

            copies[name] = copy_bytes(chunk.lower(box[0], xs, ys, idx).compile().as_text(), K)
        elif name.startswith("stackit"):
            original_slow = stackit.network.Network.scan_slow_on_cpu
            if name.endswith("step"):
                stackit.network.Network.scan_slow_on_cpu = property(lambda self: True)
            try:
                model = mlp_vs_jax.stackit_mlp(B, 0)
            finally:
                stackit.network.Network.scan_slow_on_cpu = original_slow
            steps = model.steps
            per = K if steps.scan else 1
            idxs = [rng.permutation(len(x))[:per * B].reshape(per, B).astype(np.int32)
                    for _ in range(K // per)]
            box = [(model.train_state, steps.new_accumulators())]
            fed_x = {model.net.inputs[0].name: xs}     # the engine takes dicts by name
            fed_y = {model.heads[0].target: ys}

            def run(box=box, steps=steps, idxs=idxs, fed_x=fed_x, fed_y=fed_y):
                for idx in idxs:
                    box[0] = steps.train_chunk(box[0], fed_x, fed_y, idx)
                jax.block_until_ready(box[0])

            copies[name] = copy_bytes(steps.train_chunk.lower(box[0], fed_x, fed_y, idxs[0])
                                      .compile().as_text(), per)
        else:
            raise SystemExit(f"unknown variant {name!r}")
        runners[name] = run
    return runners, copies


def main():
    global B
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed blocks of 32 steps per "
                        "variant (default 40)")
    parser.add_argument("--variants", default="ref,jax-scan,stackit,stackit-step",
                        help="comma-separated (default: all)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    args = parser.parse_args()
    B = args.batch
    x, y, source = _common.mnist_like(60_000)
    print(f"== one training step, MLP 784-256-256-10, batch {B}, adam | jax {jax.__version__}, "
          f"{jax.default_backend()} ({jax.devices()[0].device_kind}), load avg "
          f"{_common._loadavg()}")
    runners, copies = make_variants(args.variants.split(","), x, y)
    for run in runners.values():  # compile + warm
        run()
        run()
    wall = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            w, c = time.perf_counter(), time.process_time()
            run()
            wall[name].append((time.perf_counter() - w) / K * 1e3)
            cpu[name].append((time.process_time() - c) / K * 1e3)
    print(f"  {'variant':18s} {'best ms':>8s} {'median ms':>10s} {'CPU ms':>7s}   "
          f"copies per step (state copies are overhead)")
    for name in runners:
        n, size = copies[name]
        print(f"  {name:18s} {min(wall[name]):8.3f} {statistics.median(wall[name]):10.3f} "
              f"{statistics.median(cpu[name]):7.3f}   {n} copies, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
