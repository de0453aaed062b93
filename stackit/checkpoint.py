"""Checkpoints: one `.npz` of arrays plus a JSON header, written atomically, read without pickle.

Arrays are stored under their pytree paths (`params['Conv2D']['W']` → `params/Conv2D/W`), so a
file can be read by anything that reads `.npz`. Writing goes to a temporary file in the same
folder, is flushed to disk, then renamed over the target: an interrupted save leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import jax
import numpy as np

__all__ = ["save", "load", "CheckpointError", "tree_to_arrays", "arrays_into_tree"]

_META_KEY = "__stackit_meta__"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, or does not fit the model."""


def _path_name(path) -> str:
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
    return "/".join(parts)


def tree_to_arrays(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    """Flattens a pytree into `{prefix/path: numpy array}`."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {f"{prefix}/{_path_name(path)}": np.asarray(leaf) for path, leaf in leaves}


def arrays_into_tree(prefix: str, template: Any, arrays: dict[str, np.ndarray], file: str,
                     keep: frozenset[str] = frozenset()):
    """Fills `template`'s structure with `arrays[prefix/path]`, checking names and shapes.

    Leaves under a layer named in `keep` (layers built with `restore=False`) keep the
    template's value, whatever the file holds for them.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    expected = {f"{prefix}/{_path_name(path)}" for path, _ in leaves}
    extra = sorted(n for n in arrays if n.startswith(prefix + "/") and n not in expected
                   and not keep.intersection(n.split("/")))
    if extra:
        raise CheckpointError(f"{file}: the checkpoint holds {extra[0]!r} (and {len(extra) - 1} "
                              f"more arrays) that this model does not have; it was saved from a "
                              f"different architecture.")
    filled = []
    for path, leaf in leaves:
        name = f"{prefix}/{_path_name(path)}"
        if keep.intersection(name.split("/")):
            filled.append(leaf)
            continue
        if name not in arrays:
            raise CheckpointError(f"{file}: no array {name!r} in the checkpoint; it was saved "
                                  f"from a different architecture (or layer names changed).")
        value = arrays[name]
        if tuple(value.shape) != tuple(np.shape(leaf)):
            raise CheckpointError(f"{file}: {name!r} has shape {value.shape} in the checkpoint "
                                  f"but {tuple(np.shape(leaf))} in the model.")
        filled.append(value.astype(np.asarray(leaf).dtype))
    return jax.tree_util.tree_unflatten(treedef, filled)


def save(path: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """Writes `arrays` and the JSON-able `meta` to `path` atomically; returns the path written.

    Raises:
        OSError: If the folder cannot be written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    header = dict(meta, format_version=FORMAT_VERSION)
    payload = dict(arrays)
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)  # type: ignore[arg-type]  # stub: may hold allow_pickle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Reads a checkpoint written by `save`: `(arrays, meta)`. Never unpickles.

    Raises:
        FileNotFoundError: If `path` does not exist.
        CheckpointError: If the file is not a complete stackit checkpoint.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}.")
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise CheckpointError(f"{path}: not a readable stackit checkpoint (truncated or "
                              f"corrupt file?): {err}") from None
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise CheckpointError(f"{path}: not a stackit checkpoint (no header).")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt checkpoint header: {err}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')!r} is not "
                              f"supported (expected {FORMAT_VERSION}).")
    return arrays, meta
