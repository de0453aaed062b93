"""Checkpoints: one `.npz` of arrays plus a JSON header, written atomically, read without pickle;
or, for runs over several processes, an orbax-checkpoint folder (`.orbax`, see `orbax_format`)
holding the same arrays and header.

Arrays are stored under their pytree paths (`params['Conv2D']['W']` → `params/Conv2D/W`), so a
file can be read by anything that reads `.npz`. Writing goes to a temporary file in the same
folder, is flushed to disk, then renamed over the target: an interrupted save leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from typing import Any

import jax
import numpy as np

from stackit import orbax_format
from stackit._atomic import atomic_write
from stackit.distributed import fetch, is_main_process, process_count

__all__ = ["save", "load", "check_path", "with_format", "CheckpointError", "tree_to_arrays",
           "arrays_into_tree", "matching_into_tree", "SUFFIXES"]

#: The suffixes of the two formats: a single file, an orbax folder.
SUFFIXES = (".npz", orbax_format.SUFFIX)

_META_KEY = "__stackit_meta__"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, or does not fit the model."""


def _parts(path, rename: dict[str, str] | None = None) -> list[str]:
    parts = []
    for entry in path:
        if hasattr(entry, "key"):
            key = str(entry.key)
            parts.append(rename.get(key, key) if rename else key)
        elif hasattr(entry, "name"):
            parts.append(str(entry.name))
        elif hasattr(entry, "idx"):
            parts.append(str(entry.idx))
    return parts


def _path_name(path, rename: dict[str, str] | None = None) -> str:
    return "/".join(_parts(path, rename))


def tree_to_arrays(prefix: str, tree: Any) -> dict[str, Any]:
    """Flattens a pytree into `{prefix/path: array}` (the arrays as they are: `save` reads
    them from the devices)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {f"{prefix}/{_path_name(path)}": leaf for path, leaf in leaves}


def arrays_into_tree(prefix: str, template: Any, arrays: dict[str, np.ndarray], file: str,
                     keep: frozenset[str] = frozenset(), rename: dict[str, str] | None = None):
    """Fills `template`'s structure with `arrays[prefix/path]`, checking names and shapes.

    Args:
        keep: Layer names (as in `template`) whose leaves keep the template's value, whatever
            the file holds for them (layers built with `restore=False`).
        rename: The file's name for each layer of `template` whose name differs there.

    Raises:
        CheckpointError: For a missing or extra array, or a shape that differs (naming the
            layer, the parameter and both shapes).
    """
    rename = rename or {}
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    kept_in_file = {rename.get(k, k) for k in keep}
    expected = {f"{prefix}/{_path_name(path, rename)}" for path, _ in leaves}
    extra = sorted(n for n in arrays if n.startswith(prefix + "/") and n not in expected
                   and not _under(n, kept_in_file))
    if extra:
        raise CheckpointError(f"{file}: the checkpoint holds {extra[0]!r} (and {len(extra) - 1} "
                              f"more) that this model does not have; it was saved from a "
                              f"different architecture.")
    filled = []
    for path, leaf in leaves:
        parts = _parts(path)
        if keep.intersection(_layer_prefixes(parts)):
            filled.append(leaf)
            continue
        name = f"{prefix}/{_path_name(path, rename)}"
        if name not in arrays:
            raise CheckpointError(f"{file}: no array {name!r} in the checkpoint; it was saved "
                                  f"from a different architecture (or layer names changed).")
        value = arrays[name]
        if tuple(value.shape) != tuple(np.shape(leaf)):
            raise CheckpointError(f"{file}: {'/'.join(parts[:-1])}: {parts[-1]} is "
                                  f"{tuple(value.shape)} in the file, {tuple(np.shape(leaf))} "
                                  f"in this model.")
        filled.append(value.astype(np.asarray(leaf).dtype))
    return jax.tree_util.tree_unflatten(treedef, filled)


def matching_into_tree(prefix: str, template: Any, arrays: dict[str, np.ndarray],
                       pairs: dict[str, str], keep: frozenset[str] = frozenset()
                       ) -> tuple[Any, dict[str, list]]:
    """Fills each leaf of `template` (`{layer: {name: array}}`) from `arrays` where the file
    has it with the same shape, and keeps the template's value elsewhere (lenient loading).

    Args:
        pairs: The file's name of each layer of `template` that has a partner there.
        keep: Layer names whose leaves keep the template's value (`restore=False`).

    Returns:
        The filled tree, and `'layer/param'` names by outcome: `loaded`, `missing` (no
        array in the file), `mismatched` (`(name, file shape, model shape)`), `kept`, and
        `used` (the file's array names that were read).
    """
    found: dict[str, list] = {"loaded": [], "missing": [], "mismatched": [], "kept": [],
                              "used": []}
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    filled = []
    for path, leaf in leaves:
        parts = _parts(path)
        ours = "/".join(parts)
        partner = pairs.get(parts[0])
        name = f"{prefix}/{partner}/{'/'.join(parts[1:])}" if partner is not None else None
        value = arrays.get(name) if name is not None else None
        if parts[0] in keep:
            found["kept"].append(ours)
        elif value is None:
            found["missing"].append(ours)
        elif tuple(value.shape) != tuple(np.shape(leaf)):
            found["mismatched"].append((ours, tuple(value.shape), tuple(np.shape(leaf))))
            found["used"].append(name)
        else:
            found["loaded"].append(ours)
            found["used"].append(name)
            filled.append(value.astype(np.asarray(leaf).dtype))
            continue
        filled.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, filled), found


def _layer_prefixes(parts: list[str]) -> set[str]:
    """Every prefix of a key path joined with '/' (layer names may hold '/' from scopes)."""
    return {"/".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}


def _under(name: str, layers: set[str]) -> bool:
    return bool(layers & _layer_prefixes(name.split("/")))


#: The members a checkpoint may hold: arrays under these prefixes, the step, the key, the header.
_GROUPS = ("params", "layer_state", "opt_state", "position_acc")
_SINGLES = ("step", "key", _META_KEY)


def _in_format(name: str) -> bool:
    """Whether `name` is a member a checkpoint may hold."""
    return name in _SINGLES or name.split("/")[0] in _GROUPS


def check_path(path: Any, action: str) -> str:
    """`path` as a string, refusing None, numbers and folders (but orbax checkpoints).

    Raises:
        TypeError: If `path` is not a str or path-like.
        ValueError: If it names a folder.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"{action} expects a file path such as 'ckpt/model'. "
                        f"Received: {path!r}.")
    path = os.fspath(path)
    if os.path.isdir(path) and not (path.endswith(orbax_format.SUFFIX) and
                                    orbax_format.is_checkpoint(path)):
        raise ValueError(f"{action}: {path!r} is a folder; expected a file path such as "
                         f"{os.path.join(path, 'model')!r}.")
    return str(path)


def with_format(path: str) -> str:
    """`path` with the suffix of its format: kept when it has one (`.npz`, `.orbax`), else
    `.npz` in a single process and `.orbax` with several."""
    if path.endswith(SUFFIXES):
        return path
    return path + (SUFFIXES[0] if process_count() == 1 else orbax_format.SUFFIX)


def save(path: str, arrays: dict[str, Any], meta: dict[str, Any]) -> str:
    """Writes `arrays` and the JSON-able `meta` to `path` atomically; returns the path written.
    A `.orbax` path is written by every process (each its own pieces of the arrays); any other
    path is one file, written by the main process (with several processes, the others return
    the path without writing), so every process must call it.

    Raises:
        OSError: If the folder cannot be written.
        ImportError: For a `.orbax` path without orbax-checkpoint installed.
    """
    header = dict(meta, format_version=FORMAT_VERSION)
    if path.endswith(orbax_format.SUFFIX):
        return orbax_format.save(path, arrays, header)
    values = fetch(list(arrays.values()))  # several processes: gathered where split
    if not is_main_process():
        return path
    payload = {name: np.asarray(value) for name, value in zip(arrays, values, strict=True)}
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with atomic_write(path) as handle:
        np.savez(handle, **payload)  # type: ignore[arg-type]  # stub: may hold allow_pickle
    return path


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Reads a checkpoint written by `save`: `(arrays, meta)`, every member checked before any
    array is read. Never unpickles.

    Raises:
        FileNotFoundError: If `path` does not exist.
        CheckpointError: If the file is not a complete, well-formed stackit checkpoint: not a
            regular file, unreadable, a member that is not part of the format, an array whose
            declared size does not fit the file, a non-numeric, complex or non-finite array,
            or a header that is not a JSON object of the right version.
    """
    path = check_path(path, "load")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}.")
    arrays, meta = _read_folder(path) if os.path.isdir(path) else _read_file(path)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the header is not a JSON object. "
                              f"Received: {type(meta).__name__}.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')!r} is not "
                              f"supported (expected {FORMAT_VERSION}).")
    for name, array in arrays.items():
        _check_values(path, name, array)
    return arrays, meta


def _read_file(path: str) -> tuple[dict[str, np.ndarray], Any]:
    if not stat.S_ISREG(os.stat(path).st_mode):  # a named pipe would block forever
        raise CheckpointError(f"{path}: not a regular file.")
    try:
        _check_members(path)
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(f"{path}: not a readable stackit checkpoint (truncated or "
                              f"corrupt file?): {err}") from None
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise CheckpointError(f"{path}: not a stackit checkpoint (no header).")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt checkpoint header: {err}") from None
    return arrays, meta


def _read_folder(path: str) -> tuple[dict[str, np.ndarray], Any]:
    """An orbax checkpoint folder (`check_path` let only committed ones through)."""
    try:
        arrays, meta = orbax_format.load(path)
    except ValueError as err:
        raise CheckpointError(f"{path}: not a readable stackit checkpoint: {err}") from None
    for name in arrays:
        if name == _META_KEY or not _in_format(name):
            raise CheckpointError(f"{path}: not a stackit checkpoint: {name!r} is not part of "
                                  f"its format.")
    return arrays, meta


def _check_members(path: str) -> None:
    """Every member is an array of the format, with a size its bytes in the file can hold."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename[:-len(".npy")] if info.filename.endswith(".npy") else ""
            if not name or not _in_format(name):
                raise CheckpointError(f"{path}: not a stackit checkpoint: {info.filename!r} is "
                                      f"not part of its format.")
            with archive.open(info) as member:
                major, _ = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
            if dtype.hasobject:
                raise CheckpointError(f"{path}: {name!r} holds Python objects; a checkpoint "
                                      f"holds numbers only.")
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if declared > info.file_size:
                raise CheckpointError(f"{path}: {name!r} declares {declared:,} bytes but the "
                                      f"file holds {info.file_size:,} for it (corrupt file?).")


def _check_values(path: str, name: str, array: np.ndarray) -> None:
    """Arrays are real numbers; parameters and state are finite."""
    if name == _META_KEY:
        return
    numeric = np.issubdtype(array.dtype, np.number) or array.dtype == bool
    if not numeric or np.issubdtype(array.dtype, np.complexfloating):
        raise CheckpointError(f"{path}: {name!r} has dtype {array.dtype}; expected real "
                              f"numbers.")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise CheckpointError(f"{path}: {name!r} holds NaN or infinite values.")
