"""Parsed-array caches (`.npz`, never pickled) written atomically next to the raw files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from stackit._atomic import save_npz

__all__ = ["read_npz", "write_npz"]


def read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Returns the arrays `keys` from a cache file, or None if it is missing or unreadable.

    An unreadable cache (e.g. from an older format) is not an error: it is rebuilt.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Writes `arrays` to `path` through a temporary file and a rename."""
    save_npz(path, arrays)
