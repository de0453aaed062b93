"""Training over several processes (several hosts, or several processes on one host).

Call `initialize` at the start of the script, in every process, before anything else touches
JAX; then build and `fit` the model as usual. The engine spans one mesh over the devices of
all processes: each process sends only the rows of every global batch that its own devices
take (all processes draw the same order from the same seed), the parameters are replicated,
and the metrics are reduced over all processes inside the compiled steps. Only the main
process (`is_main_process`) prints progress and writes TensorBoard logs; checkpoints and
snapshots are orbax-checkpoint folders that all processes write together. See
docs/performance.md ("Scaling out").

Example, on two hosts (the first one at 10.0.0.1):

    # host 0:  JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \\
    #              python train.py
    # host 1:  the same with JAX_PROCESS_ID=1
    import stackit
    stackit.distributed.initialize()
    model = stackit.DNN(network, seed=0)
    model.fit(X, Y, n_epoch=10, batch_size=256)   # 256 rows per step, over all devices
"""

from __future__ import annotations

import os

import jax
import numpy as np

__all__ = ["initialize", "is_main_process", "process_index", "process_count", "fetch",
           "ADDRESS_ENV", "PROCESSES_ENV", "PROCESS_ID_ENV"]

#: Where the coordinator (process 0) listens, `host:port` (read by JAX itself as well).
ADDRESS_ENV = "JAX_COORDINATOR_ADDRESS"
#: How many processes take part.
PROCESSES_ENV = "JAX_NUM_PROCESSES"
#: This process's number, from 0 (0 is the main process).
PROCESS_ID_ENV = "JAX_PROCESS_ID"


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs) -> None:
    """Joins this process to a multi-process run (`jax.distributed.initialize`).

    Call it once per process, before any other JAX call (before building a model). Arguments
    left as None are read from `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES` and
    `JAX_PROCESS_ID`; where those are unset too, JAX detects them on the clusters it knows
    (Slurm, Open MPI, Cloud TPU, ...). Collectives between CPU processes use gloo (over TCP),
    unless `jax_cpu_collectives_implementation` was set to another.

    Args:
        coordinator_address: `host:port` of process 0, reachable by every process. Defaults
            to `None` (`$JAX_COORDINATOR_ADDRESS`).
        num_processes: The number of processes. Defaults to `None` (`$JAX_NUM_PROCESSES`).
        process_id: This process's number, from 0. Defaults to `None` (`$JAX_PROCESS_ID`).
        **kwargs: Passed on to `jax.distributed.initialize` (`local_device_ids`,
            `initialization_timeout`, ...).

    Raises:
        ValueError: If an environment variable is not an integer.
        RuntimeError: If JAX was already initialized (or used) in this process.
    """
    coordinator_address = coordinator_address or os.environ.get(ADDRESS_ENV) or None
    if num_processes is None:
        num_processes = _env_int(PROCESSES_ENV)
    if process_id is None:
        process_id = _env_int(PROCESS_ID_ENV)
    if getattr(jax.config, "jax_cpu_collectives_implementation", None) is None:
        # the CPU backend's collectives between processes (only the CPU client reads it)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id, **kwargs)


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"${name} must be an integer. Received: {name}={text!r}.") from None


def is_main_process() -> bool:
    """Whether this is process 0, the one that prints and writes files (True in a
    single-process run)."""
    return jax.process_index() == 0


def process_index() -> int:
    """This process's number, from 0 (`jax.process_index()`)."""
    return jax.process_index()


def process_count() -> int:
    """The number of processes (`jax.process_count()`; 1 without `initialize`)."""
    return jax.process_count()


def fetch(tree):
    """A host (numpy) copy of a pytree of arrays (`jax.device_get`). With several processes,
    an array split over devices of other processes is gathered from them, so every process
    must call this at the same point (as they all run the same steps); replicated arrays are
    read locally."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    def one(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable and \
                not leaf.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return jax.device_get(leaf)

    return jax.tree.map(one, tree)
