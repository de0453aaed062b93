"""Checkpoints as orbax-checkpoint folders (`<name>.orbax`): the format of runs over several
processes (`stackit.distributed`).

Every process takes part in a save: each writes the pieces of the arrays that its own devices
hold (a replicated array is written once), process 0 writes the JSON header, and orbax commits
the folder atomically (it is written under a temporary name and renamed when every process is
done). Loading reads whole arrays into host memory on every process, so a checkpoint written by
any number of processes loads into a run of any other number, one process included.

orbax-checkpoint is an optional dependency (`pip install "stackit[orbax]"`); it is imported
only when such a folder is written or read.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import jax
import numpy as np

__all__ = ["SUFFIX", "save", "load", "is_checkpoint", "require"]

#: The suffix of an orbax checkpoint folder.
SUFFIX = ".orbax"


def require() -> Any:
    """The `orbax.checkpoint` module.

    Raises:
        ImportError: If orbax-checkpoint is not installed, saying how to install it.
    """
    try:
        import orbax.checkpoint as ocp
    except ImportError:
        raise ImportError("Checkpoints of a run over several processes are orbax-checkpoint "
                          "folders, and orbax-checkpoint is not installed: pip install "
                          "\"stackit[orbax]\" (or save to a '.npz' path for a single file "
                          "written by process 0).") from None
    return ocp


def is_checkpoint(path: str) -> bool:
    """Whether `path` is a folder that orbax committed (a finished save)."""
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "_CHECKPOINT_METADATA"))


def save(path: str, arrays: dict[str, Any], header: dict[str, Any]) -> str:
    """Writes `arrays` (jax or numpy arrays, keyed by name) and the JSON-able `header` as the
    folder `path`, replacing any checkpoint there only once the new one is complete. Every
    process must call it with the same names. Returns `path`.

    Raises:
        ImportError: If orbax-checkpoint is not installed.
    """
    ocp = require()
    path = os.path.abspath(path)
    # written beside the old one, then swapped in: an interrupted save keeps the old folder
    target = f"{path}.new" if os.path.exists(path) else path
    checkpointer = _checkpointer(ocp)
    checkpointer.save(target, force=True, args=ocp.args.Composite(
        arrays=ocp.args.PyTreeSave(arrays), header=ocp.args.JsonSave(header)))
    if target != path:
        if jax.process_index() == 0:
            old = f"{path}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(path, old)
            os.rename(target, path)
            shutil.rmtree(old)
        _barrier("stackit: checkpoint swapped in")
    return path


def load(path: str) -> tuple[dict[str, np.ndarray], Any]:
    """Reads a folder written by `save`: `(arrays as numpy, header)`, whole arrays on every
    process.

    Raises:
        ImportError: If orbax-checkpoint is not installed.
        ValueError: If orbax cannot read the folder (the caller names the file).
    """
    ocp = require()
    path = os.path.abspath(path)
    checkpointer = _checkpointer(ocp)
    try:
        names = checkpointer.metadata(path).item_metadata["arrays"]
        to_host = {name: ocp.RestoreArgs(restore_type=np.ndarray) for name in names}
        restored = checkpointer.restore(path, args=ocp.args.Composite(
            arrays=ocp.args.PyTreeRestore(restore_args=to_host), header=ocp.args.JsonRestore()))
    except (KeyError, TypeError, ValueError, OSError) as err:
        raise ValueError(f"orbax cannot read it: {err}") from None
    arrays = {name: np.asarray(value) for name, value in restored["arrays"].items()}
    return arrays, restored["header"]


def _checkpointer(ocp):
    return ocp.Checkpointer(ocp.CompositeCheckpointHandler(
        arrays=ocp.PyTreeCheckpointHandler(), header=ocp.JsonCheckpointHandler()))


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
