"""One atomic file writer for checkpoints, dataset caches and image caches.

The data go to a hidden temporary file in the target's folder, are flushed to disk, and the
file is renamed over the target: a reader sees the old file or the new one, never half of one,
and an interrupted write leaves the old file intact and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

__all__ = ["atomic_write", "save_npz"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Opens a temporary file for writing that replaces `path` when the block ends cleanly.

    Raises:
        OSError: If the folder cannot be written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Writes `arrays` as an `.npz` (no pickle) to `path`, atomically."""
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # stub: may hold allow_pickle
