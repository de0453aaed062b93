"""Data placement and batching: where arrays live, and which rows each step takes.

Inputs and targets are dicts of arrays (pytrees); every leaf is batched, placed and gathered the
same way. The data go to the device once when they fit; each step gathers its rows there from a
permutation. The last partial batch is padded with index -1 and masked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from stackit.engine.prefetch import prefetch
from stackit.inputs import is_lazy, take_rows

__all__ = ["chunk_plan", "batch_indices", "unaliased", "Placement", "DeviceData",
           "DEVICE_DATA_LIMIT_BYTES", "n_rows", "host_rows", "aligned_empty"]

# Data larger than this stays on the host and is sent one chunk at a time.
DEVICE_DATA_LIMIT_BYTES = 2 << 30
# Host data: at most this many bytes of chunks gathered ahead, in at most this many threads.
PREFETCH_BYTES = 256 << 20
MAX_PREFETCH = 4


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
    they fit, else gathered on the host per chunk (large or lazily loaded data: an h5py
    dataset, a dask array, a memmap, an image preloader), one chunk ahead of the device."""

    def __init__(self, x: dict, y: dict, placement: Placement):
        self.placement = placement
        leaves = [*x.values(), *y.values()]
        self.on_device = (all(isinstance(a, np.ndarray) and not is_lazy(a) for a in leaves)
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
        safe = np.maximum(flat, 0)  # padding reads row 0: real (finite) values, masked out
        local = np.where(flat >= 0, np.arange(flat.size), -1).astype(np.int32)
        rows = {k: host_rows(v, safe) for k, v in self.x.items()}, \
            {k: host_rows(v, safe) for k, v in self.y.items()}
        xs, ys = self.placement.replicate(rows)
        return xs, ys, self.placement.split_batches(local.reshape(idx.shape))

    def chunks(self, idx: np.ndarray) -> Iterator[tuple[np.ndarray, tuple]]:
        """`(idx[c], chunk(idx[c]))` for each chunk `c` of `idx` (chunks, steps, batch). Host
        data are gathered and sent one chunk ahead, in a background thread, while the device
        computes the current chunk."""
        if self.on_device:
            return ((block, self.chunk(block)) for block in idx)
        return prefetch(lambda block: (block, self.chunk(block)), idx,
                        self._prefetch_depth(idx[0].size))

    def _prefetch_depth(self, rows: int) -> int:
        """Chunks gathered at once: one, unless every leaf is a numpy array (no user code
        runs, so order cannot matter) and the compute is not on the host's own cores; then as
        many as fit `PREFETCH_BYTES`, up to `MAX_PREFETCH`, so the gathers keep up with a fast
        accelerator."""
        leaves = [*self.x.values(), *self.y.values()]
        if jax.default_backend() == "cpu" or not all(isinstance(a, np.ndarray) for a in leaves):
            return 1
        row_bytes = sum(int(np.prod(a.shape[1:])) * a.dtype.itemsize for a in leaves)
        cores = max(1, (os.cpu_count() or 2) // 2)
        return int(np.clip(PREFETCH_BYTES // max(1, rows * row_bytes), 1,
                           min(MAX_PREFETCH, cores)))


def host_rows(data, indices: np.ndarray) -> np.ndarray:
    """Rows `indices` of an array or lazy array as a fresh, aligned numpy array, with floats
    and ints narrowed to what JAX would make of them (float64 to float32 without x64: half the
    bytes to send). The result is never written again, so the CPU backend's `device_put` uses
    it in place instead of copying it."""
    if isinstance(data, np.ndarray) and jax.dtypes.canonicalize_dtype(data.dtype) == data.dtype:
        out = aligned_empty((len(indices), *data.shape[1:]), data.dtype)
        return np.take(data, indices, axis=0, out=out, mode="clip")  # in range: no check
    rows = take_rows(data, indices)
    dtype = jax.dtypes.canonicalize_dtype(rows.dtype)
    if rows.dtype == dtype and rows.flags.owndata and rows.flags.c_contiguous and \
            rows.ctypes.data % _ALIGN == 0:
        return rows  # fresh (a view might be of the user's own array: copied below)
    out = aligned_empty(rows.shape, dtype)
    np.copyto(out, rows, casting="unsafe")  # canonicalizing narrows, as device_put would
    return out


# XLA:CPU takes a host array in place (no copy) when it is aligned to this many bytes.
_ALIGN = 64


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """`np.empty(shape, dtype)` starting on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)
