"""How many training steps go to the device per dispatch: measured once per model, batch size
and machine, then remembered.

Fusing steps into one `lax.scan` saves the host a dispatch per step, which wins for small
models; but XLA:CPU runs some steps (convolution gradients) much slower inside a scan's loop
body. Rather than guess, the first long `fit` of a model times both ways on copies of its own
training state and first batch (`measure`), and the faster is written to a small JSON file
beside the compilation cache (`remember`; `STACKIT_DISPATCH_FILE` names another file), keyed
by the graph, the batch size, the precision and the machine (`choice_key`), so later runs and
later scripts with the same model start with it. Short fits (tests, smoke runs) keep the
per-layer guess (`Layer.cpu_scan_slow`): measuring would cost them more than it saves.

The probe is a scan of `SCAN_PROBE` steps against single steps: where the scan is faster per
step, training takes `STEPS_PER_CHUNK` per dispatch (a longer scan only saves more dispatches),
else one; the guess stands unless the other way wins by `MARGIN`.

`STACKIT_DISPATCH=guess` turns the measurement off; `DNN(steps_per_execution=N)` fixes it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from stackit import _atomic, _compile_cache
from stackit.engine.data import Placement, host_rows, unaliased

__all__ = ["ENV", "FILE_ENV", "MEASURE_MIN_STEPS", "SCAN_PROBE", "MARGIN", "choice_key",
           "recall", "remember", "measure", "decide", "worth_measuring"]

ENV = "STACKIT_DISPATCH"
FILE_ENV = "STACKIT_DISPATCH_FILE"
#: A fit of fewer training steps than this keeps the guess (measuring costs a compilation).
MEASURE_MIN_STEPS = 5000
#: The scan measured against one step per dispatch: short, so a slow scan costs little to time.
SCAN_PROBE = 4
#: The measurement overrules the guess only when the other way is this much faster per step:
#: a close call on a busy machine must not be remembered as a change.
MARGIN = 1.15
#: A timed round of a candidate lasts about this long.
ROUND_SECONDS = 0.05
_ROUNDS = 3


def worth_measuring(total_steps: int) -> bool:
    """Whether a fit of `total_steps` steps should measure (or recall) its dispatch."""
    # several processes must compile the same steps: a clock (or a file) of each could differ
    return total_steps >= MEASURE_MIN_STEPS and jax.process_count() == 1 and \
        os.environ.get(ENV, "").strip().lower() not in ("guess", "0", "off")


def choice_key(graph: dict, batch_size: int, mixed_precision: str | None) -> str:
    """The key a measured choice is remembered under: the model's graph, the batch size, the
    precision, and the machine (backend, device kind and count, jax version)."""
    blob = json.dumps({"graph": graph, "batch_size": batch_size,
                       "precision": mixed_precision, "backend": jax.default_backend(),
                       "device": jax.devices()[0].device_kind, "devices": jax.device_count(),
                       "jax": jax.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _file() -> Path | None:
    """`$STACKIT_DISPATCH_FILE`, else `dispatch.json` beside the compilation cache folder in
    the user's cache (`~/.cache/stackit/`); None (nothing remembered) when that cache is off."""
    chosen = os.environ.get(FILE_ENV, "").strip()
    if chosen:
        return Path(chosen)
    if _compile_cache.is_off():
        return None
    return _compile_cache.default_folder().parent / "dispatch.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # missing or unreadable: measure again (it only costs time)
    return data if isinstance(data, dict) else {}


def recall(key: str) -> int | None:
    """The steps per dispatch measured before under `key`, or None."""
    path = _file()
    value = _read(path).get(key) if path else None
    return value if isinstance(value, int) and value >= 1 else None


def remember(key: str, steps_per_dispatch: int) -> None:
    """Writes the choice under `key` (atomically; silently skipped where it cannot be)."""
    path = _file()
    if path is None:
        return
    data = {**_read(path), key: int(steps_per_dispatch)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _atomic.atomic_write(path) as out:
            out.write(json.dumps(data, indent=0, sort_keys=True).encode())
    except OSError:
        pass


def decide(seconds: dict[int, float], guess: int, chunk: int) -> int:
    """Steps per dispatch from `measure`'s `{1: s, SCAN_PROBE: s}`: `guess` (1 or `chunk`)
    unless the other way was faster per step by `MARGIN`."""
    single, scanned = seconds[1], seconds[SCAN_PROBE]
    if guess == 1:
        return chunk if scanned * MARGIN < single else 1
    return 1 if single * MARGIN < scanned else chunk


def measure(chunks: dict[int, Callable], ts, acc, x: dict, y: dict,
            batch_size: int) -> dict[int, float]:
    """Seconds per training step for each `{steps per dispatch: train chunk}`, timed on
    copies of `ts` and `acc` over the first `batch_size` rows of `x` and `y` (repeated when
    fewer): after a compiling dispatch and a sizing one, the best of `_ROUNDS` rounds of as many
    dispatches as take `ROUND_SECONDS`, the candidates alternated. The model's own state is not
    touched."""
    placement = Placement()
    rows = np.arange(batch_size) % len(next(iter(x.values())))
    xs, ys = placement.replicate(({k: host_rows(v, rows) for k, v in x.items()},
                                  {k: host_rows(v, rows) for k, v in y.items()}))
    carries, indices, sizes = {}, {}, {}
    for per in chunks:
        carries[per] = placement.replicate(unaliased(jax.tree.map(jnp.copy, (ts, acc))))
        indices[per] = placement.split_batches(
            np.tile(np.arange(batch_size, dtype=np.int32), (per, 1)))

    def run(per: int, dispatches: int) -> float:
        start = time.perf_counter()
        for _ in range(dispatches):
            carries[per] = chunks[per](carries[per], xs, ys, indices[per])
        jax.block_until_ready(carries[per])
        return time.perf_counter() - start

    for per in chunks:
        run(per, 1)  # compiles
        sizes[per] = max(1, min(64, math.ceil(ROUND_SECONDS / max(run(per, 1), 1e-6))))
    seconds: dict[int, list[float]] = {per: [] for per in chunks}
    for _ in range(_ROUNDS):
        for per in chunks:
            seconds[per].append(run(per, sizes[per]) / (sizes[per] * per))
    return {per: min(times) for per, times in seconds.items()}
