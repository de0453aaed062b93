"""Batches from a user's iterable (a Python generator, a grain `DataLoader`, ...) as chunks.

The source owns the order: a pass takes the batches as they come. A chunk of K steps is one
host buffer of K * B rows per input and target (B: the compiled batch size); step j takes the
rows `[j B, j B + len(batch j))` and pads the rest of its row of indices with -1. That is the
layout `DeviceData` sends for host data, so the same compiled chunk (and its mask of padding)
serves both, and a short batch neither recompiles nor biases anything. The next chunk is read,
checked and sent in a background thread while the device computes the current one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from stackit.engine.data import Placement, aligned_empty, pad_rows
from stackit.engine.prefetch import prefetch

__all__ = ["BatchSource", "BatchStream"]

#: `check(item) -> (x, y, rows)`: one item of the source as checked dicts of numpy arrays.
Check = Callable[[Any], tuple[dict, dict, int]]

_END = object()


class BatchSource:
    """Reads a user's iterable in order, one pass at a time, checking each batch as it comes.

    An iterator (a generator) is one stream that the passes read on from each other. A
    re-iterable (`iter(source)` gives a new iterator, as a grain `DataLoader` or a `Sequence`
    does) is read on as well, and started again when a pass finds it exhausted before its first
    batch: a source that holds exactly one epoch serves every epoch.

    Args:
        source: The iterable.
        name: How messages name it (`'the generator'`).
        what: What a pass is called in messages (`'epoch'`, `'evaluate'`).
    """

    def __init__(self, source: Iterable, name: str, what: str):
        self.source, self.name, self.what = source, name, what
        self.iterator = iter(source)
        self.reiterable = self.iterator is not source
        self.check: Check | None = None
        self.passes = 0
        self._held: list[Any] = []
        self._first: Any = _END

    def peek(self) -> Any:
        """The first item: read on the first call, and handed out again as the first item of
        the first pass.

        Raises:
            ValueError: If the source yields nothing.
        """
        if self._first is _END:
            item = next(self.iterator, _END)
            if item is _END:
                raise ValueError(f"{_capital(self.name)} yielded no batch.")
            self._first = item
            self._held.append(item)
        return self._first

    def check_first(self) -> tuple[dict, dict, int]:
        """The first item, checked (before anything is compiled).

        Raises:
            ValueError, TypeError: As `check`, naming the batch.
        """
        assert self.check is not None
        try:
            return self.check(self.peek())
        except (ValueError, TypeError) as err:
            raise type(err)(f"Batch 1 from {self.name}: {err}") from None

    def _next(self, k: int) -> Any:
        if self._held:
            return self._held.pop()
        item = next(self.iterator, _END)
        if item is _END and k == 0 and self.reiterable:  # a new epoch of a re-iterable
            self.iterator = iter(self.source)
            item = next(self.iterator, _END)
        return item

    def batches(self, count: int | None) -> Iterator[tuple[dict, dict, int]]:
        """One pass: `count` checked batches `(x, y, rows)` (all that come when None).

        Raises:
            ValueError: If the source ends before `count` batches (naming how many it gave), or
                a batch does not fit the model (the message names the batch).
            TypeError: For a batch of the wrong type.
        """
        assert self.check is not None
        self.passes += 1
        k = 0
        while count is None or k < count:
            item = self._next(k)
            if item is _END:
                if count is None and k > 0:
                    return
                raise ValueError(self._ended(k, count))
            try:
                yield self.check(item)
            except (ValueError, TypeError) as err:
                raise type(err)(f"{self.where(k)}: {err}") from None
            k += 1

    def where(self, k: int) -> str:
        """Names batch `k` (from 0) of the current pass in messages."""
        if self.what == "epoch":
            return f"Batch {k + 1} of epoch {self.passes} (of this fit) from {self.name}"
        return f"Batch {k + 1} from {self.name} ({self.what})"

    def _ended(self, k: int, count: int | None) -> str:
        if count is None or k == 0 and self.what != "epoch":
            return f"{_capital(self.name)} yielded no batch ({self.what})."
        if self.what != "epoch":
            return (f"{_capital(self.name)} ended after {k} batch(es), but "
                    f"{self.what}(steps={count}) asks for {count}. Pass fewer steps, or none to "
                    f"read all it yields.")
        return (f"{_capital(self.name)} ended after {k} batch(es) of epoch {self.passes} (of "
                f"this fit), but steps_per_epoch={count} asks for {count}. Yield at least {count} "
                f"batches per epoch (loop the generator, e.g. `while True:`, or pass a "
                f"re-iterable such as a grain DataLoader), or lower steps_per_epoch.")


class BatchStream:
    """A `BatchSource` of checked batches of at most `batch_size` rows, as compiled chunks.

    Args:
        source: The source, its `check` set; each batch it reads is also held to
            `batch_size` rows and to the first batch's dtypes (messages name the batch).
        batch_size: The compiled batch size.
        steps: Batches per pass (None: as many as come).
        first: The first checked batch `(x, y, rows)`: its leaves fix the buffers' shapes and
            dtypes.
        hint: How to fix a batch longer than `batch_size` (ends that message).
    """

    def __init__(self, source: BatchSource, batch_size: int, steps: int | None,
                 first: tuple[dict, dict, int], hint: str):
        self.source, self.batch_size, self.steps, self.hint = source, batch_size, steps, hint
        x, y, _ = first
        self.templates = ({k: (v.shape[1:], v.dtype) for k, v in x.items()},
                          {k: (v.shape[1:], v.dtype) for k, v in y.items()})
        check = source.check
        assert check is not None
        source.check = lambda item: self._conform(*check(item))

    @property
    def n_samples(self) -> int:
        """Rows a pass holds when every batch is full (what the display counts)."""
        return (self.steps or 1) * self.batch_size

    def placed(self, placement: Placement) -> PlacedStream:
        """This stream sending its chunks through `placement`."""
        return PlacedStream(self, placement)

    def _conform(self, x: dict, y: dict, rows: int) -> tuple[dict, dict, int]:
        if rows > self.batch_size:
            raise ValueError(f"it has {rows} rows, more than the batch size of "
                             f"{self.batch_size} the step is compiled for. {self.hint}")
        out = []
        for data, templates, role in ((x, self.templates[0], "X"), (y, self.templates[1], "Y")):
            same = {}
            for key, value in data.items():
                dtype = templates[key][1]
                value = np.asarray(value)
                if value.dtype != dtype:
                    if not np.can_cast(value.dtype, dtype, "same_kind"):
                        raise TypeError(f"{role}[{key!r}] has dtype {value.dtype}; the first "
                                        f"batch's was {dtype}, which the compiled step takes. "
                                        f"Yield one dtype throughout.")
                    value = value.astype(dtype)
                same[key] = value
            out.append(same)
        return out[0], out[1], rows

    def fill(self, batches: Iterator[tuple[dict, dict, int]], block: np.ndarray):
        """Host buffers `(xs, ys)` and local indices for one chunk shaped like `block` (steps,
        batch): each of its steps with an index >= 0 takes the next batch, while batches come.
        None when the source ended before the chunk's first batch."""
        n_steps, size = block.shape
        idx = np.full((n_steps, size), -1, np.int32)
        # rows no index points at are never read (padding reads row 0, a real one)
        bufs = tuple({k: aligned_empty((n_steps * size, *shape), dtype)
                      for k, (shape, dtype) in tree.items()} for tree in self.templates)
        for j in range(int(np.any(block >= 0, axis=1).sum())):
            batch = next(batches, None)
            if batch is None:
                break
            x, y, rows = batch
            idx[j, :rows] = np.arange(j * size, j * size + rows)
            for buf, data in zip(bufs, (x, y), strict=True):
                for k, value in data.items():
                    buf[k][j * size:j * size + rows] = value
        return (bufs, idx) if idx[0, 0] >= 0 else None


class PlacedStream:
    """A `BatchStream` sending its chunks through one `Placement` (what the loop iterates)."""

    def __init__(self, stream: BatchStream, placement: Placement):
        self.stream, self.placement = stream, placement

    def chunks(self, idx: np.ndarray) -> Iterator[tuple[np.ndarray, tuple]]:
        """One pass over the source, as `DeviceData.chunks`: `(local indices, (xs, ys, rows))`
        per chunk of `idx`'s (chunks, steps, batch) layout. With `steps=None` the pass runs
        until the source ends, in chunks shaped like `idx[0]`."""
        stream = self.stream
        count = None if stream.steps is None else int(np.any(idx >= 0, axis=2).sum())
        batches = stream.source.batches(count)
        blocks: Iterable[np.ndarray] = idx if count is not None else _repeat(idx[0])

        def make(block):
            filled = stream.fill(batches, block)
            if filled is None:
                return None
            (xs, ys), local = filled
            xs, ys = self.placement.replicate((xs, ys))
            return local, (xs, ys, self.placement.split_batches(local))

        for chunk in prefetch(make, blocks):
            if chunk is None:
                return
            yield chunk

    def predict_batches(self) -> Iterator[tuple[dict, int]]:
        """`(x on the devices, padded to the batch size and split over the devices as
        `Placement.split_rows` does; real rows)` per batch of one pass, each read, checked and
        sent one batch ahead in a background thread."""
        size = self.stream.batch_size
        batches = self.stream.source.batches(self.stream.steps)

        def make(_):
            item = next(batches, None)
            if item is None:
                return None
            x, _, rows = item
            return self.placement.split_rows({k: pad_rows(np.asarray(v), size)
                                              for k, v in x.items()}), rows

        for batch in prefetch(make, itertools.count()):
            if batch is None:
                return
            yield batch


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _repeat(block: np.ndarray) -> Iterator[np.ndarray]:
    while True:
        yield block
