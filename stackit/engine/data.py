"""Data placement and batching: where arrays live, and which rows each step takes.

Inputs and targets are dicts of arrays (pytrees); every leaf is batched, placed and gathered the
same way. The data go to the device once when they fit; each step gathers its rows there from a
permutation. The last partial batch is padded with index -1 and masked, and so is every step's
batch up to a multiple of the device count (`Placement`).
"""

from __future__ import annotations

import collections
import math
import os
import sys
from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from stackit.distributed import fetch
from stackit.engine.prefetch import prefetch
from stackit.inputs import is_lazy, take_rows

__all__ = ["chunk_plan", "batch_indices", "unaliased", "Placement", "DeviceData",
           "DEVICE_DATA_LIMIT_BYTES", "n_rows", "host_rows", "aligned", "aligned_empty", "fetch",
           "global_array", "pad_columns", "pad_rows"]

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
    one-axis mesh of all of them (data parallelism; parameters replicated). With several
    processes (`stackit.distributed`) the mesh spans every process's devices, and each process
    puts only the parts of an array its own devices hold.

    A step's batch of indices is padded with -1 (masked, as the last partial batch is) to a
    multiple of the device count, so any batch size runs on every device.
    """

    def __init__(self):
        devices = jax.devices()
        self.n_devices = len(devices)
        self.multiprocess = jax.process_count() > 1
        self.mesh = Mesh(np.asarray(devices), ("batch",)) if len(devices) > 1 else None

    def width(self, batch_size: int) -> int:
        """The padded batch size: `batch_size` rounded up to a multiple of the devices."""
        return -(-batch_size // self.n_devices) * self.n_devices

    def replicate(self, tree):
        """Copies `tree` to every device (or to the one device)."""
        if self.mesh is None:
            return jax.device_put(tree)
        return self._put(tree, PartitionSpec())

    def split_batches(self, idx: np.ndarray):
        """Batch indices (..., B), padded with -1 to (..., `width(B)`), the batch axis spread
        over the devices."""
        idx = pad_columns(idx, self.width(idx.shape[-1]))
        if self.mesh is None:
            return idx
        return self._put(idx, PartitionSpec(*([None] * (idx.ndim - 1)), "batch"))

    def split_rows(self, tree):
        """Arrays (B, ...) of one batch, padded with zero rows to `width(B)` rows and spread
        over the devices along their first axis."""
        tree = jax.tree.map(lambda a: pad_rows(np.asarray(a), self.width(len(a))), tree)
        if self.mesh is None:
            return jax.device_put(tree)
        return self._put(tree, PartitionSpec("batch"))

    def _put(self, tree, spec: PartitionSpec):
        assert self.mesh is not None
        sharding = NamedSharding(self.mesh, spec)
        if not self.multiprocess:
            return jax.device_put(tree, sharding)
        return jax.tree.map(lambda leaf: global_array(leaf, sharding), tree)


def global_array(leaf, sharding: NamedSharding) -> jax.Array:
    """`leaf` (the same value in every process) as an array over `sharding`'s devices, of
    every process: each process copies only the parts its own devices hold (no transfer
    between processes, no check that the values agree)."""
    if isinstance(leaf, jax.Array):
        if leaf.sharding == sharding:
            return leaf
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = global_array(jax.random.key_data(leaf), sharding)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        if not leaf.is_fully_addressable:
            return jax.device_put(leaf, sharding)
    host = np.asarray(leaf)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def pad_columns(idx: np.ndarray, width: int) -> np.ndarray:
    """`idx` (..., B) with -1 columns appended up to `width`."""
    if idx.shape[-1] == width:
        return idx
    pad = np.full((*idx.shape[:-1], width - idx.shape[-1]), -1, idx.dtype)
    return np.concatenate([idx, pad], axis=-1)


def pad_rows(value: np.ndarray, size: int) -> np.ndarray:
    """`value` with zero rows appended up to `size` rows."""
    if len(value) == size:
        return value
    pad = np.zeros((size - len(value), *value.shape[1:]), value.dtype)
    return np.concatenate([value, pad])


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
            if jax.default_backend() == "cpu":  # taken in place instead of copied (slowly)
                x, y = ({k: aligned(v, keep=True) for k, v in tree.items()} for tree in (x, y))
            self.x, self.y = placement.replicate((x, y))
        else:
            self.x, self.y = x, y

    def chunk(self, idx: np.ndarray):
        """(xs, ys, idx) for one chunk of batch indices."""
        if self.on_device:
            return self.x, self.y, self.placement.split_batches(idx)
        if self.placement.multiprocess:
            return self._own_rows(idx)
        flat = idx.reshape(-1)
        safe = np.maximum(flat, 0)  # padding reads row 0: real (finite) values, masked out
        local = np.where(flat >= 0, np.arange(flat.size), -1).astype(np.int32)
        rows = {k: host_rows(v, safe) for k, v in self.x.items()}, \
            {k: host_rows(v, safe) for k, v in self.y.items()}
        xs, ys = self.placement.replicate(rows)
        return xs, ys, self.placement.split_batches(local.reshape(idx.shape))

    def _own_rows(self, idx: np.ndarray):
        """`chunk` for host data with several processes: each process reads and sends only
        the rows its own devices' columns of `idx` (steps, batch) take. The rows are sent
        device by device (the first device's steps, then the next one's), split over the
        devices along the row axis, with local indices to match."""
        placement = self.placement
        assert placement.mesh is not None
        idx = pad_columns(idx, placement.width(idx.shape[-1]))
        steps, width = idx.shape
        devices = placement.n_devices
        by_device = (steps, devices, width // devices)
        source = np.maximum(idx.reshape(by_device).transpose(1, 0, 2).reshape(-1), 0)
        local = np.arange(source.size, dtype=np.int32).reshape(
            by_device[1], steps, by_device[2]).transpose(1, 0, 2).reshape(steps, width)
        local = np.where(idx >= 0, local, -1).astype(np.int32)
        sharding = NamedSharding(placement.mesh, PartitionSpec("batch"))

        def put(data) -> jax.Array:
            def rows(index) -> np.ndarray:  # index: this device's (slice of rows, ...)
                return host_rows(data, source[index[0]])

            return jax.make_array_from_callback((source.size, *data.shape[1:]), sharding, rows)

        xs, ys = ({k: put(v) for k, v in tree.items()} for tree in (self.x, self.y))
        return xs, ys, placement.split_batches(local)

    def chunks(self, idx: np.ndarray | Sequence[np.ndarray]
               ) -> Iterator[tuple[np.ndarray, tuple]]:
        """`(idx[c], chunk(idx[c]))` for each chunk `c` of `idx` (chunks, steps, batch), or
        of a list of (steps, batch) blocks of any sizes. Host
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
    # fresh rows are used as they are when aligned (a view might be of the user's own array)
    return aligned(rows, copy=not rows.flags.owndata)


# XLA:CPU takes a host array in place (no copy) when it is aligned to this many bytes.
_ALIGN = 64


def aligned(array: np.ndarray, copy: bool = False, keep: bool = False) -> np.ndarray:
    """`array` (unless `copy`), or a copy of it starting on a 64-byte boundary in the dtype
    JAX makes of it. XLA:CPU takes such an array in place; an unaligned one it copies about 5x
    slower than numpy does (60,000 MNIST rows: 100 ms against 20 ms), once per `fit` call.
    With `keep`, a large copy goes to a buffer kept for later calls (`kept_empty`)."""
    dtype = jax.dtypes.canonicalize_dtype(array.dtype)
    if not copy and array.dtype == dtype and array.flags.c_contiguous and \
            array.ctypes.data % _ALIGN == 0:
        return array
    out = kept_empty(array.shape, dtype) if keep else aligned_empty(array.shape, dtype)
    np.copyto(out, array, casting="unsafe")  # canonicalizing narrows, as device_put would
    return out


#: The aligned buffers `kept_empty` handed out, by shape and dtype, newest last.
_KEPT: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()
#: At most this many are kept, each of at least `KEPT_MIN_BYTES`.
KEPT_BUFFERS = 4
KEPT_MIN_BYTES = 16 << 20


def kept_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """`aligned_empty(shape, dtype)`, reusing the buffer of an earlier call with the same shape
    and dtype once nothing refers to it any more (the device array made from it in place held a
    reference until it was freed). Fresh memory is slow to come by on some machines: the first
    write to 180 MB of new pages (60,000 MNIST rows) took 100-500 ms now and then on a 2-core
    VM, against 20 ms to copy into pages used before, so `fit` called again and again (one
    epoch at a time) copies its data into the same memory. Buffers under `KEPT_MIN_BYTES` are
    not kept; the `KEPT_BUFFERS` most recent are."""
    key = (tuple(shape), np.dtype(dtype).str)
    out = _KEPT.pop(key, None)
    if out is None or not _unreferenced(out):
        out = aligned_empty(shape, dtype)
    if out.nbytes >= KEPT_MIN_BYTES:
        _KEPT[key] = out
        while len(_KEPT) > KEPT_BUFFERS:
            _KEPT.popitem(last=False)
    return out


def _unreferenced(out: np.ndarray) -> bool:
    """Whether `out` (an `aligned_empty` view, just taken out of `_KEPT`) and the memory under
    it are referred to by nothing but the caller: no view of it and no array made from it."""
    # counted: the caller's name and getrefcount's argument; for the base, out's link too
    return sys.getrefcount(out) == 3 and sys.getrefcount(out.base) == 2


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """`np.empty(shape, dtype)` starting on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)
