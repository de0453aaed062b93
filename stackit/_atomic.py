"""One atomic file writer for checkpoints, dataset caches and image caches.

The data go to a hidden temporary file in the target's folder, are flushed to disk, and the
file is renamed over the target: a reader sees the old file or the new one, never half of one,
and an interrupted write leaves the old file intact and no temporary file behind. A Ctrl-C
during the write is held back until the write is complete. Temporary files left by a writer
that was killed (`.tmp-<pid>-...` of a process that no longer runs) are removed by the next
write in that folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

__all__ = ["atomic_write", "save_npz"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Opens a temporary file for writing that replaces `path` when the block ends cleanly.

    Raises:
        OSError: If the folder cannot be written.
        KeyboardInterrupt: After the write, if Ctrl-C was pressed during it.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _remove_stale(folder)
    with _sigint_held():
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-",
                                   suffix=os.path.splitext(path)[1], dir=folder)
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


def _remove_stale(folder: str) -> None:
    """Removes `.tmp-<pid>-*` files whose writer process no longer runs."""
    for tmp in glob.glob(os.path.join(glob.escape(folder), ".tmp-*-*")):
        pid = os.path.basename(tmp).split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return True


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Holds back Ctrl-C (in the main thread) until the block ends, then hands it to the
    handler that was in place (`fit`'s stops after the current steps; Python's raises
    KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        if callable(previous):
            previous(signal.SIGINT, None)
        else:
            raise KeyboardInterrupt
