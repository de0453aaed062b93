"""Data placement and batching: where arrays live, and which rows each step takes.

Inputs and targets are dicts of arrays (pytrees); every leaf is batched, placed and gathered the
same way. The data go to the device once when they fit; each step gathers its rows there from a
permutation. The last partial batch is padded with index -1 and masked.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["chunk_plan", "batch_indices", "unaliased", "Placement", "DeviceData",
           "DEVICE_DATA_LIMIT_BYTES", "n_rows"]

# Data larger than this stays on the host and is sent one chunk at a time.
DEVICE_DATA_LIMIT_BYTES = 2 << 30


def chunk_plan(n: int, batch_size: int, steps_per_chunk: int) -> tuple[int, int]:
    """(chunks, steps per chunk) covering ceil(n / batch_size) steps with little padding."""
    steps = math.ceil(n / batch_size)
    chunks = math.ceil(steps / max(1, min(steps_per_chunk, steps)))
    return chunks, math.ceil(steps / chunks)


def batch_indices(order: np.ndarray, batch_size: int, chunks: int, per_chunk: int) -> np.ndarray:
    """Sample indices laid out as (chunks, steps, batch), padded with -1."""
    idx = np.full(chunks * per_chunk * batch_size, -1, np.int32)
    idx[: len(order)] = order
    return idx.reshape(chunks, per_chunk, batch_size)


def unaliased(tree):
    """`tree` with repeated array objects copied: a donated argument may hold each buffer once
    (e.g. a metric's `init` that reuses one zero array for several statistics)."""
    seen: set[int] = set()

    def fresh(leaf):
        if id(leaf) in seen:
            return jnp.array(leaf, copy=True)
        seen.add(id(leaf))
        return leaf

    return jax.tree.map(fresh, tree)


def n_rows(data: dict) -> int:
    """The number of samples in a dict of equally long arrays."""
    return len(next(iter(data.values())))


class Placement:
    """Where arrays live: one device, or, with several devices, the batch axis split over a
    one-axis mesh of all of them (data parallelism; parameters replicated)."""

    def __init__(self, batch_size: int):
        devices = jax.devices()
        self.mesh = None
        if len(devices) > 1 and batch_size % len(devices) == 0:
            self.mesh = Mesh(np.asarray(devices), ("batch",))

    def replicate(self, tree):
        """Copies `tree` to every device (or to the one device)."""
        if self.mesh is None:
            return jax.device_put(tree)
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))

    def split_batches(self, idx: np.ndarray):
        """Batch indices (..., B) with the batch axis spread over the devices."""
        if self.mesh is None:
            return idx
        spec = PartitionSpec(*([None] * (idx.ndim - 1)), "batch")
        return jax.device_put(idx, NamedSharding(self.mesh, spec))


class DeviceData:
    """Inputs and targets (dicts of arrays) for the compiled chunks: on the device once when
    they fit, else gathered on the host per chunk (large or lazily loaded data)."""

    def __init__(self, x: dict, y: dict, placement: Placement):
        self.placement = placement
        leaves = [*x.values(), *y.values()]
        self.on_device = (all(isinstance(a, np.ndarray) for a in leaves)
                          and sum(a.nbytes for a in leaves) <= DEVICE_DATA_LIMIT_BYTES)
        if self.on_device:
            self.x, self.y = placement.replicate((x, y))
        else:
            self.x, self.y = x, y

    def chunk(self, idx: np.ndarray):
        """(xs, ys, idx) for one chunk of batch indices."""
        if self.on_device:
            return self.x, self.y, self.placement.split_batches(idx)
        flat = idx.reshape(-1)
        safe = np.maximum(flat, 0)
        local = np.where(flat >= 0, np.arange(flat.size), -1).astype(np.int32)
        rows = {k: np.asarray(v[safe]) for k, v in self.x.items()}, \
            {k: np.asarray(v[safe]) for k, v in self.y.items()}
        xs, ys = self.placement.replicate(rows)
        return xs, ys, self.placement.split_batches(local.reshape(idx.shape))
