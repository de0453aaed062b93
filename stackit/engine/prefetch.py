"""Prefetch: prepare the next chunks on the host while the device computes this one.

The loop dispatches a compiled chunk and returns at once (JAX dispatches asynchronously); a
background thread meanwhile gathers, converts and sends the next chunk's rows. Results come
back in the order of their items and each item is prepared exactly once, so the batches and
their order are those of a loop without prefetch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
R = TypeVar("R")


def prefetch(make: Callable[[T], R], items: Iterable[T], depth: int = 1) -> Iterator[R]:
    """Yields `make(item)` for each item, in order, preparing the next `depth` items in
    background threads while the caller uses the current one.

    `depth` > 1 prepares several items at once (each in its own thread), for a `make` that
    depends on its item alone and spends its time outside the GIL (numpy gathers, transfers);
    a `make` that reads a shared stream needs `depth=1`. An exception raised by `make` is
    raised here, for the item it failed on. Leaving the loop early (or an error) waits for the
    items in flight and stops the threads.
    """
    pending = iter(items)
    pool = ThreadPoolExecutor(max_workers=depth, thread_name_prefix="stackit-prefetch")
    ahead: deque[Future[R]] = deque()

    def submit() -> None:
        item = next(pending, _END)
        if item is not _END:
            ahead.append(pool.submit(make, item))  # type: ignore[arg-type]

    try:
        for _ in range(depth):
            submit()
        while ahead:
            result = ahead.popleft().result()
            submit()
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()
