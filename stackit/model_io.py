"""Saving and restoring a model's whole training state, and the snapshots `fit` writes."""

from __future__ import annotations

import glob
import os

import jax
import jax.numpy as jnp
import numpy as np

from stackit import checkpoint
from stackit.callbacks.base import TrainingState
from stackit.layers.base import Layer
from stackit.training import TrainState

__all__ = ["save_model", "load_model", "model_from_file", "write_snapshots"]


def save_model(model, model_file: str, weights_only: bool = False) -> str:
    """Writes params, layer state, optimizer state, step, RNG key, epoch, data order and the
    architecture config of `model` to `model_file` (`.npz` added); returns the path. With
    `weights_only`, only params and layer state are written."""
    ts = model.train_state
    trees = [("params", ts.params), ("layer_state", ts.layer_state)]
    if not weights_only:
        trees.append(("opt_state", ts.opt_state))
    arrays = {}
    for prefix, tree in trees:
        arrays.update(checkpoint.tree_to_arrays(prefix, tree))
    meta = {"weights_only": weights_only, "epoch": model.epoch, "seed": model.seed,
            "clip_gradients": model.clip_gradients,
            "preprocessing_fitted": model.preprocessing_fitted,
            "layers": [_config_or_none(layer) for layer in model.net.layers]}
    if not weights_only:
        arrays["step"] = np.asarray(ts.step)
        typed_key = jnp.issubdtype(ts.key.dtype, jax.dtypes.prng_key)
        arrays["key"] = np.asarray(jax.random.key_data(ts.key) if typed_key else ts.key)
        meta["data_rng"] = model.data_rng.bit_generator.state
    return checkpoint.save(_with_ext(model_file), arrays, meta)


def load_model(model, model_file: str, weights_only: bool = False) -> None:
    """Restores a file written by `save_model` into `model` (which must be built the same way).

    Layers created with `restore=False` keep their current values (tflearn's fine-tuning:
    a new output layer on top of restored features).

    Raises:
        ValueError: If `model` is not built yet.
        CheckpointError: If the file is corrupt or does not fit the model.
    """
    if not model.built:
        raise ValueError("load() needs a built model: create it with input_data(...) or "
                         "call build(input_shape) first.")
    path = model_file if os.path.exists(model_file) else _with_ext(model_file)
    arrays, meta = checkpoint.load(path)
    if meta.get("weights_only") and not weights_only:
        raise checkpoint.CheckpointError(
            f"{path} holds weights only (no optimizer state or step): load it with "
            f"model.load({model_file!r}, weights_only=True).")
    ts = model.train_state
    keep = frozenset(layer.name for layer in model.net.all_layers()
                     if getattr(layer, "restore", True) is False)
    params = checkpoint.arrays_into_tree("params", ts.params, arrays, path, keep)
    layer_state = checkpoint.arrays_into_tree("layer_state", ts.layer_state, arrays, path, keep)
    if weights_only:
        model.train_state = ts._replace(params=params, layer_state=layer_state)
        model.preprocessing_fitted = bool(meta.get("preprocessing_fitted", False))
        return
    opt_state = checkpoint.arrays_into_tree("opt_state", ts.opt_state, arrays, path, keep)
    model.train_state = TrainState(params, layer_state, opt_state,
                                   jnp.asarray(arrays["step"], jnp.int32),
                                   jnp.asarray(arrays["key"], ts.key.dtype))
    model.epoch = int(meta.get("epoch", 0))
    model.preprocessing_fitted = bool(meta.get("preprocessing_fitted", False))
    if "data_rng" in meta:
        model.data_rng.bit_generator.state = meta["data_rng"]


def model_from_file(model_file: str, **dnn_kwargs):
    """Rebuilds a model from a file written by `save` alone: the architecture from the saved
    layer configs, then every saved array (`stackit.load_model`).

    Args:
        model_file: The file (`.npz` may be left out).
        **dnn_kwargs: `DNN` arguments to override (e.g. `checkpoint_path`); the saved seed and
            `clip_gradients` are used otherwise.

    Raises:
        CheckpointError: If the file is corrupt, or a layer held a Python callable (a custom
            activation, a lambda) that a config cannot describe: then rebuild the network in
            code and call `model.load(model_file)`.
    """
    from stackit.layers.base import layer_from_config
    from stackit.model import DNN

    path = model_file if os.path.exists(model_file) else _with_ext(model_file)
    _, meta = checkpoint.load(path)
    configs = meta.get("layers") or []
    if not configs or any(config is None for config in configs):
        raise checkpoint.CheckpointError(
            f"{path} does not describe its whole architecture (a layer used a Python callable, "
            f"which a config cannot hold). Build the network in code, then call "
            f"model.load({model_file!r}).")
    layers = [layer_from_config(config) for config in configs]
    kwargs = {"seed": meta.get("seed"), "clip_gradients": meta.get("clip_gradients", 5.0),
              **dnn_kwargs}
    model = DNN(layers, **kwargs)
    load_model(model, path, weights_only=bool(meta.get("weights_only")))
    return model


def write_snapshots(model, state: TrainingState) -> None:
    """Saves `<checkpoint_path>-<step>.npz` (keeping the newest `max_checkpoints`) and, when the
    validation metric improves, `<best_checkpoint_path><metric>.npz`."""
    if model.checkpoint_path:
        save_model(model, f"{model.checkpoint_path}-{state.step}")
        if model.max_checkpoints:
            pattern = f"{glob.escape(model.checkpoint_path)}-*.npz"
            found = sorted((p for p in glob.glob(pattern) if _snapshot_step(p) >= 0),
                           key=_snapshot_step)
            for old in found[: -model.max_checkpoints]:
                os.remove(old)
    if model.best_checkpoint_path and state.val_acc is not None \
            and state.val_acc > model.best_val_accuracy:
        model.best_val_accuracy = state.val_acc
        save_model(model, f"{model.best_checkpoint_path}{state.val_acc:.4f}")


def _snapshot_step(path: str) -> int:
    """The step in a snapshot name `<prefix>-<step>.npz` (-1 for other files, never pruned)."""
    tail = path[:-len(".npz")].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _with_ext(path: str) -> str:
    return path if path.endswith(".npz") else path + ".npz"


def _config_or_none(layer: Layer) -> dict | None:
    try:
        return layer.get_config()
    except TypeError:
        return None
