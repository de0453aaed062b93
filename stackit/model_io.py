"""Saving and restoring a model's whole training state, and the snapshots `fit` writes.

A file describes the graph it came from (each layer's config, each node's parents, the
outputs), so `stackit.load_model` can rebuild it, and `model.load` matches the file's layers to
the model's by structure: explicit names first, then position in the graph. A model rebuilt in
the same process, whose automatic names got new suffixes, loads its own files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stackit import checkpoint, distributed, mixing, optimizers
from stackit._registry import to_json
from stackit.callbacks.base import TrainingState
from stackit.engine import TrainState
from stackit.engine.loop import Position
from stackit.estimator import Regression
from stackit.layers.base import Layer, Tensor, layer_from_config

__all__ = ["save_model", "load_model", "read_graph", "write_snapshots", "newest_snapshot",
           "LoadReport"]


@dataclasses.dataclass
class LoadReport:
    """What `model.load` restored; `print(report)` explains it. Names are this model's
    (`'layer/param'`, and `'layer/name'` for layer state).

    Attributes:
        path: The file read.
        loaded: The arrays that took the file's values.
        missing: Those the file has no counterpart for (new layers): left as they were.
        mismatched: `(name, shape in the file, shape in this model)` for those whose shape
            differs (a new head of another size): left as they were.
        kept: Those of layers created with `restore=False`: left as they were.
        unused: The file's arrays that nothing in this model took.
        training_state: Whether the optimizer state, step and epoch were restored too.
        note: Why they were not, when they were asked for.
    """

    path: str
    loaded: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)
    unused: list[str] = dataclasses.field(default_factory=list)
    training_state: bool = False
    note: str = ""

    @property
    def skipped(self) -> list[str]:
        """The arrays not loaded because the file lacks them or their shape differs."""
        return self.missing + [name for name, _, _ in self.mismatched]

    def __str__(self) -> str:
        total = len(self.loaded) + len(self.skipped) + len(self.kept)
        what = "with the optimizer state, step and epoch" if self.training_state else \
            "weights only"
        lines = [f"Loaded {len(self.loaded)} of {total} arrays from {self.path} ({what})."]
        lines += [f"  skipped {name}: {theirs} in the file, {ours} in this model"
                  for name, theirs, ours in self.mismatched]
        lines += [f"  skipped {name}: not in the file" for name in self.missing]
        lines += [f"  kept {name}: restore=False" for name in self.kept]
        lines += [f"  unused in the file: {name}" for name in self.unused]
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)


def save_model(model, model_file: str, weights_only: bool = False) -> str:
    """Writes params, layer state, optimizer state, step, RNG key, epoch, data order and the
    architecture of `model` to `model_file` (`checkpoint.with_format`: `.npz` added, `.orbax`
    with several processes); returns the path. With
    `weights_only`, only params and layer state are written.

    Raises:
        TypeError: If `model_file` is not a path.
        ValueError: If it names a folder.
    """
    model_file = checkpoint.check_path(model_file, "save")
    ts = model._built_state()
    trees = [("params", ts.params), ("layer_state", ts.layer_state)]
    if not weights_only:
        trees.append(("opt_state", ts.opt_state))
    arrays = {}
    for prefix, tree in trees:
        arrays.update(checkpoint.tree_to_arrays(prefix, tree))
    meta = {"weights_only": weights_only, "epoch": model.epoch, "seed": model.seed,
            "clip_gradients": model.clip_gradients, "clip_value": model.clip_value,
            "mixed_precision": model.mixed_precision,
            "preprocessing_fitted": model.preprocessing_fitted,
            "graph": graph_config(model),
            "stored_layers": _stored_layers(model),
            "frozen": list(model.frozen)}
    if not weights_only:
        meta["run_target"] = model.run_target
        if model.run_mix is not None:
            meta["mix"] = mixing.mix_config(model.run_mix)
        if model.position is not None:
            pos = model.position
            meta["position"] = {"steps_done": pos.steps_done, "batch_size": pos.batch_size,
                                "order_rng": pos.order_rng}
            arrays.update(checkpoint.tree_to_arrays("position_acc", _acc_by_order(model, pos.acc)))
        arrays["step"] = np.asarray(ts.step)
        typed_key = jnp.issubdtype(ts.key.dtype, jax.dtypes.prng_key)
        arrays["key"] = np.asarray(jax.random.key_data(ts.key) if typed_key else ts.key)
        meta["data_rng"] = model.data_rng.bit_generator.state
    return checkpoint.save(checkpoint.with_format(model_file), arrays, meta)


def load_model(model, model_file: str, weights_only: bool = False,
               strict: bool = True) -> LoadReport:
    """Restores a file written by `save_model` into `model`, all or nothing; with
    `strict=False`, every parameter and layer state that pairs with the file's and has its
    shape (see `_pair_layers`), leaving the rest as they are.

    Layers created with `restore=False` keep their current values (tflearn's fine-tuning:
    a new output layer on top of restored features). When the optimizer differs from the one
    saved (e.g. layers frozen for fine-tuning), the model keeps its own optimizer state.

    Returns:
        A `LoadReport` of what was restored.

    Raises:
        ValueError: If `model` is not built yet.
        CheckpointError: If the file is corrupt or (strict) does not fit the model (the
            message names the first layer that differs).
    """
    if not model.built:
        raise ValueError("load() needs a built model: create it with input_data(...) or "
                         "call build(input_shape) first.")
    model_file = checkpoint.check_path(model_file, "load")
    path = _existing(model_file)
    arrays, meta = checkpoint.load(path)
    if not strict:
        return _load_matching(model, model_file, path, arrays, meta, weights_only)
    return _load_all(model, model_file, path, arrays, meta, weights_only)


def _load_all(model, model_file: str, path: str, arrays: dict, meta: dict,
              weights_only: bool) -> LoadReport:
    """`load(strict=True)`: every array is checked before the model changes."""
    if meta.get("weights_only") and not weights_only:
        raise checkpoint.CheckpointError(
            f"{path} holds weights only (no optimizer state or step): load it with "
            f"model.load({model_file!r}, weights_only=True).")
    ts = model._built_state()
    rename = _match_layers(_stored_layers(model), meta.get("stored_layers"), path)
    keep = frozenset(model.net.kept_layers())
    _check_shapes_in_graph_order(model, ts, arrays, rename, keep, path)
    params = checkpoint.arrays_into_tree("params", ts.params, arrays, path, keep, rename)
    layer_state = checkpoint.arrays_into_tree("layer_state", ts.layer_state, arrays, path, keep,
                                              rename)
    new = ts._replace(params=params, layer_state=layer_state)
    if not weights_only:
        try:
            opt_state = checkpoint.arrays_into_tree("opt_state", ts.opt_state, arrays, path,
                                                    keep, rename)
        except checkpoint.CheckpointError as err:
            warnings.warn(f"{path}: the optimizer state does not fit this model's optimizer "
                          f"({err}); parameters, step and epoch are restored, the optimizer "
                          f"starts afresh.", stacklevel=4)
            opt_state = ts.opt_state
        step, key = _checked_step_and_key(arrays, ts.key, path)
        epoch, run_target, data_rng = _checked_counters(meta, path)
        new = TrainState(params, layer_state, opt_state, step, key)
        position = _read_position(model, meta, arrays, path)
        try:
            run_mix = mixing.mix_from_config(meta.get("mix"), path)
        except ValueError as err:
            raise checkpoint.CheckpointError(str(err)) from None
    # every array and field was read and checked above: only now does the model change
    model.train_state = new
    model.preprocessing_fitted = bool(meta.get("preprocessing_fitted", False))
    if not weights_only:
        model.epoch, model.run_target, model.position = epoch, run_target, position
        model.run_mix = run_mix
        if data_rng is not None:
            model.data_rng.bit_generator.state = data_rng
    report = LoadReport(path, training_state=not weights_only)
    for tree in (params, layer_state):
        for layer, values in tree.items():
            names = [f"{layer}/{name}" for name in _leaf_names(values)]
            (report.kept if layer in keep else report.loaded).extend(names)
    return report


def _load_matching(model, model_file: str, path: str, arrays: dict, meta: dict,
                   weights_only: bool) -> LoadReport:
    """`load(strict=False)`: everything when the file fits (as `strict=True`), else the
    parameters and layer state that pair with the file's and have its shapes."""
    note = ""
    if not weights_only:
        try:
            return _load_all(model, model_file, path, arrays, meta, weights_only=False)
        except checkpoint.CheckpointError as err:
            note = (f"The optimizer state, step and epoch were not restored ({err}); the "
                    f"model keeps its own.")
    ts = model._built_state()
    pairs = _pair_layers(_stored_layers(model), meta.get("stored_layers"))
    keep = frozenset(model.net.kept_layers())
    report = LoadReport(path, note=note)
    trees = {}
    used: set[str] = set()
    for prefix in ("params", "layer_state"):
        trees[prefix], found = checkpoint.matching_into_tree(prefix, getattr(ts, prefix),
                                                             arrays, pairs, keep)
        report.loaded += found["loaded"]
        report.missing += found["missing"]
        report.mismatched += found["mismatched"]
        report.kept += found["kept"]
        used.update(found["used"])
    report.unused = sorted(name.split("/", 1)[1] for name in arrays
                           if name.split("/")[0] in ("params", "layer_state")
                           and name not in used)
    model.train_state = ts._replace(params=trees["params"], layer_state=trees["layer_state"])
    inputs = {node.name for node in model.net.inputs}
    skipped_input = any(name.split("/")[0] in inputs for name in report.skipped)
    model.preprocessing_fitted = model.preprocessing_fitted or (
        bool(meta.get("preprocessing_fitted", False)) and not skipped_input)
    return report


def _pair_layers(ours: list[list], theirs: list[list] | None) -> dict[str, str]:
    """The file's layer paired with each of ours, leniently: an explicit name with the same
    name; the other layers, type by type, the k-th of a type with the file's k-th of that
    type (not taken by name). Layers without a partner are left out."""
    if theirs is None:
        return {name: name for name, _, _ in ours}
    file_names = {name for name, _, _ in theirs}
    pairs = {name: name for name, _, explicit in ours if explicit and name in file_names}
    taken = set(pairs.values())
    by_type: dict[str, list[str]] = {}
    for name, kind, _ in theirs:
        if name not in taken:
            by_type.setdefault(kind, []).append(name)
    for name, kind, _ in ours:
        if name not in pairs and by_type.get(kind):
            pairs[name] = by_type[kind].pop(0)
    return pairs


def _leaf_names(values: Any) -> list[str]:
    return [jax.tree_util.keystr(path, simple=True, separator="/")
            for path, _ in jax.tree_util.tree_leaves_with_path(values)]


def read_graph(model_file: str, optimizer: Any = None,
               learning_rate: Any = None) -> tuple[str, list[Tensor], dict]:
    """Rebuilds the graph a file describes: `(path, output tensors, header)`.

    Args:
        optimizer: An optimizer for every estimator, or a dict keyed by estimator name,
            replacing the saved one (needed where it was an optax transformation).
        learning_rate: The same for the learning rate (needed where it was a callable).

    Raises:
        CheckpointError: If the file is corrupt, an estimator's optimizer or learning rate was
            a Python object the file could not hold and was not passed again, or a layer held
            a Python callable (a custom activation, a lambda) that a config cannot describe:
            then rebuild the network in code and call `model.load(model_file)`.
        ValueError: If `optimizer` or `learning_rate` names estimators the file lacks.
    """

    model_file = checkpoint.check_path(model_file, "load_model")
    path = _existing(model_file)
    arrays, meta = checkpoint.load(path)
    graph = meta.get("graph") or {}
    configs = graph.get("layers") or []
    if not configs or any(config is None for config in configs):
        raise checkpoint.CheckpointError(
            f"{path} does not describe its whole architecture (a layer used a Python callable, "
            f"which a config cannot hold). Build the network in code, then call "
            f"model.load({model_file!r}).")
    configs = _with_passed_again(configs, optimizer, learning_rate, path, model_file)
    try:
        return path, _build_nodes(graph, configs, arrays, path), meta
    except (KeyError, IndexError, TypeError, ValueError) as err:
        if isinstance(err, checkpoint.CheckpointError):
            raise
        raise checkpoint.CheckpointError(f"{path}: the graph in the header cannot be rebuilt: "
                                         f"{err}") from None


def _build_nodes(graph: dict, configs: list, arrays: dict, path: str) -> list[Tensor]:
    """The output tensors of the graph a header describes, checking each layer's parameter
    shapes against the file's arrays before anything is allocated."""

    layers = [layer_from_config(config) for config in configs]
    nodes: list[Tensor] = []
    for layer_index, parents in graph["nodes"]:
        layer = layers[layer_index]
        if layer.n_inputs == 0:
            nodes.append(Tensor(layer, (), layer.shape))  # type: ignore[attr-defined]
        else:  # the node as saved, its parents in order (a layer call may add or split nodes)
            nodes.append(Tensor(layer, tuple(nodes[p] for p in parents)))
        for param, shape in nodes[-1].param_shapes.items():  # before anything is allocated
            saved = arrays.get(f"params/{layer.name}/{param}")
            if saved is None or tuple(saved.shape) != tuple(shape):
                raise checkpoint.CheckpointError(
                    f"{path}: the config of layer {layer.name!r} gives {param} the shape "
                    f"{tuple(shape)}, but the file holds "
                    f"{'no such array' if saved is None else tuple(saved.shape)}.")
    return [nodes[i] for i in graph["outputs"]]


def write_snapshots(model, state: TrainingState) -> str | None:
    """Saves `<checkpoint_path>-<step>.npz` (`.orbax` with several processes; keeping the
    newest `max_checkpoints`) and, when the validation metric improves,
    `<best_checkpoint_path><metric>.npz`. Returns the snapshot's path (None without
    `checkpoint_path`)."""
    written = None
    if model.checkpoint_path:
        written = save_model(model, f"{model.checkpoint_path}-{state.step}")
        if model.max_checkpoints and distributed.is_main_process():
            for old in _snapshots(model.checkpoint_path)[: -model.max_checkpoints]:
                with contextlib.suppress(FileNotFoundError):  # another run pruned it first
                    if os.path.isdir(old):
                        shutil.rmtree(old)
                    else:
                        os.remove(old)
    if model.best_checkpoint_path and state.val_acc is not None \
            and state.val_acc > model.best_val_accuracy:
        model.best_val_accuracy = state.val_acc
        save_model(model, f"{model.best_checkpoint_path}{state.val_acc:.4f}")
    return written


def graph_config(model) -> dict:
    """Layers (configs, None where a config cannot describe one), nodes as
    `[layer index, parent node indices]`, and the output node indices."""
    net = model.net
    layer_index = {id(layer): i for i, layer in enumerate(net.layers)}
    return {"layers": [_config_or_none(layer) for layer in net.layers],
            "nodes": [[layer_index[id(node.layer)], [net.index[id(p)] for p in node.parents]]
                      for node in net.nodes],
            "outputs": [net.index[id(t)] for t in model._outputs]}


def _stored_layers(model) -> list[list]:
    """`[name, type, explicitly named]` of the layers with saved values, in graph order."""
    ts = model._built_state()
    return [[layer.name, type(layer).__name__, not layer.auto_named]
            for layer in model.net.layers if layer.name in ts.params or layer.name in
            ts.layer_state]


def _match_layers(ours: list[list], theirs: list[list] | None, path: str) -> dict[str, str]:
    """The file's name of each of our layers whose name differs there: explicit names match
    by name, the others by position among the rest (same type).

    Raises:
        CheckpointError: If the layers cannot be paired (naming the first that differs).
    """
    if theirs is None:
        return {}
    file_names = {name for name, _, _ in theirs}
    pairs: dict[str, str] = {}
    rest_ours = []
    for name, kind, explicit in ours:
        if explicit and name in file_names:
            pairs[name] = name
        else:
            rest_ours.append((name, kind))
    taken = set(pairs.values())
    rest_theirs = [(name, kind) for name, kind, _ in theirs if name not in taken]
    for (name, kind), (their_name, their_kind) in zip(rest_ours, rest_theirs, strict=False):
        if kind != their_kind:
            raise checkpoint.CheckpointError(
                f"{path}: the architecture differs at layer {name!r} ({kind} in this model, "
                f"{their_kind} {their_name!r} in the file).")
        pairs[name] = their_name
    if len(rest_ours) != len(rest_theirs):
        extra = rest_ours[len(rest_theirs):] or rest_theirs[len(rest_ours):]
        where = "this model" if len(rest_ours) > len(rest_theirs) else "the file"
        raise checkpoint.CheckpointError(
            f"{path}: the architecture differs: {where} has more layers with parameters, "
            f"starting with {extra[0][0]!r} ({extra[0][1]}).")
    return {ours_name: file_name for ours_name, file_name in pairs.items()
            if ours_name != file_name}


def newest_snapshot(prefix: str) -> str | None:
    """The snapshot `<prefix>-<step>.npz` (or `.orbax`) with the highest step, or None."""
    found = _snapshots(prefix)
    return found[-1] if found else None


def _snapshots(prefix: str) -> list[str]:
    """The snapshots `<prefix>-<step>.npz` and `.orbax`, by step."""
    found = [p for suffix in checkpoint.SUFFIXES
             for p in glob.glob(f"{glob.escape(prefix)}-*{suffix}") if _snapshot_step(p) >= 0]
    return sorted(found, key=_snapshot_step)


def _checked_step_and_key(arrays: dict, model_key, path: str):
    """The step (a non-negative integer) and the RNG key (the model's shape and dtype)."""
    step, key = arrays.get("step"), arrays.get("key")
    if step is None or key is None:
        raise checkpoint.CheckpointError(f"{path}: the field {'step' if step is None else 'key'!r}"
                                         f" is missing.")
    if step.shape != () or not np.issubdtype(step.dtype, np.integer) or int(step) < 0:
        raise checkpoint.CheckpointError(f"{path}: step must be a non-negative integer. "
                                         f"Received: {step!r}.")
    want = np.asarray(jax.random.key_data(model_key) if jnp.issubdtype(
        model_key.dtype, jax.dtypes.prng_key) else model_key)
    if key.shape != want.shape or key.dtype != want.dtype:
        raise checkpoint.CheckpointError(f"{path}: the RNG key is {key.dtype}{list(key.shape)}; "
                                         f"expected {want.dtype}{list(want.shape)}.")
    return jnp.asarray(step, jnp.int32), jnp.asarray(key, model_key.dtype)


def _checked_counters(meta: dict, path: str) -> tuple[int, int | None, dict | None]:
    """The epoch count, the run's target epoch and the shuffling state, checked."""
    epoch, target = meta.get("epoch", 0), meta.get("run_target")
    for name, value in (("epoch", epoch), ("run_target", target)):
        if value is None and name == "run_target":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise checkpoint.CheckpointError(f"{path}: {name} must be a non-negative integer. "
                                             f"Received: {value!r}.")
    data_rng = meta.get("data_rng")
    if data_rng is not None:
        _check_rng_state(data_rng, path, "data_rng")
    return epoch, target, data_rng


def _check_rng_state(state, path: str, field: str) -> None:
    try:
        np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError) as err:
        raise checkpoint.CheckpointError(f"{path}: {field} is not a shuffling-generator "
                                         f"state ({err}).") from None


def _read_position(model, meta: dict, arrays: dict, path: str) -> Position | None:
    """The place inside an epoch a mid-epoch snapshot holds, or None."""
    saved = meta.get("position")
    if saved is None:
        return None
    if not isinstance(saved, dict) or not all(
            isinstance(saved.get(k), int) and not isinstance(saved.get(k), bool)
            for k in ("steps_done", "batch_size")) or saved["steps_done"] < 0 \
            or saved["batch_size"] < 1:
        raise checkpoint.CheckpointError(f"{path}: position must hold a non-negative "
                                         f"steps_done and a positive batch_size. Received: "
                                         f"{saved!r}.")
    _check_rng_state(saved.get("order_rng"), path, "position.order_rng")
    template = _acc_by_order(model, jax.device_get(model._built_steps().new_accumulators()))
    acc = checkpoint.arrays_into_tree("position_acc", template, arrays, path)
    acc["heads"] = {head.name: values for head, values in zip(model.heads, acc["heads"],
                                                               strict=True)}
    return Position(int(saved["steps_done"]), int(saved["batch_size"]), saved["order_rng"], acc)


def _acc_by_order(model, acc: dict) -> dict:
    """The accumulators with the heads' entries in head order (names may differ on load)."""
    return {**acc, "heads": [acc["heads"][head.name] for head in model.heads]}


def _check_shapes_in_graph_order(model, ts, arrays, rename, keep, path) -> None:
    """Names the first layer, in graph order, whose parameters differ in shape from the file."""
    for layer in model.net.layers:
        if layer.name in keep:
            continue
        for prefix, tree in (("params", ts.params), ("layer_state", ts.layer_state)):
            for param, value in tree.get(layer.name, {}).items():
                saved = arrays.get(f"{prefix}/{rename.get(layer.name, layer.name)}/{param}")
                if saved is not None and tuple(saved.shape) != tuple(np.shape(value)):
                    raise checkpoint.CheckpointError(
                        f"{path}: {layer.name}: {param} is {tuple(saved.shape)} in the file, "
                        f"{tuple(np.shape(value))} in this model.")


def _snapshot_step(path: str) -> int:
    """The step in a snapshot name `<prefix>-<step>.npz` or `.orbax` (-1 for other files,
    never pruned)."""
    tail = os.path.splitext(path)[0].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _existing(model_file: str) -> str:
    """The checkpoint `model_file` names: itself, else with `.npz`, else with `.orbax`."""
    if os.path.exists(model_file):
        return model_file
    return next((model_file + suffix for suffix in checkpoint.SUFFIXES
                 if os.path.exists(model_file + suffix)), model_file + checkpoint.SUFFIXES[0])


def _config_or_none(layer: Layer) -> dict | None:
    try:
        return layer.get_config()
    except TypeError:
        return _estimator_config(layer) if isinstance(layer, Regression) else None


# -- optimizers a file cannot hold ----------------------------------------------------------------
#: The key of the stand-in a config holds for a value it cannot describe.
UNSAVED = "unsaved"


def _estimator_config(layer: Regression) -> dict | None:
    """The config of an estimator whose optimizer (or only its learning rate, or a field of
    a stackit optimizer) is a Python object: that value is replaced by `{"unsaved": what it
    was}`, for `load_model` to ask again. None if another field cannot be described."""
    config: dict[str, Any] = {"type": type(layer).__name__}
    for field in dataclasses.fields(layer):
        value = getattr(layer, field.name)
        try:
            config[field.name] = to_json(value, layer, field.name)
        except TypeError:
            if field.name == "optimizer":
                config[field.name] = _optimizer_config(value)
            elif field.name == "learning_rate":
                config[field.name] = _unsaved(value)
            else:
                return None
    return config


def _optimizer_config(optimizer: Any) -> dict:
    """A stackit optimizer's config with stand-ins for its callables, or a stand-in."""
    if not isinstance(optimizer, optimizers.Optimizer):
        return _unsaved(optimizer)
    config: dict[str, Any] = {"type": type(optimizer).__name__}
    for field in dataclasses.fields(optimizer):
        value = getattr(optimizer, field.name)
        try:
            config[field.name] = to_json(value, optimizer, field.name)
        except TypeError:
            config[field.name] = _unsaved(value)
    return config


def _unsaved(value: Any) -> dict:
    if isinstance(value, optax.GradientTransformation):
        return {UNSAVED: "an optax transformation"}
    name = getattr(value, "__qualname__", None) or type(value).__name__
    return {UNSAVED: f"the Python callable {name!r}"}


def _is_unsaved(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {UNSAVED}


def _with_passed_again(configs: list[dict], optimizer: Any, learning_rate: Any, path: str,
                       model_file: str) -> list[dict]:
    """The layer configs with `optimizer` / `learning_rate` put into the estimators' (each
    a value for all, or a dict keyed by estimator name).

    Raises:
        ValueError: If a dict names an estimator the file does not have.
        CheckpointError: If a value the file could not hold is still missing (naming each,
            and the call that passes it).
    """
    names = [config.get("name") for config in configs if config.get("type") == Regression.__name__]
    for arg, value in (("optimizer", optimizer), ("learning_rate", learning_rate)):
        if isinstance(value, dict) and set(value) - set(names):
            raise ValueError(f"load_model: {arg}= names estimators the file does not have: "
                             f"{sorted(set(value) - set(names))}. Expected some of: {names}.")
    out, missing = [], []
    for config in configs:
        if config.get("type") != Regression.__name__:
            out.append(config)
            continue
        name = config.get("name")
        config = dict(config)
        opt = optimizer.get(name) if isinstance(optimizer, dict) else optimizer
        lr = learning_rate.get(name) if isinstance(learning_rate, dict) else learning_rate
        if opt is not None:
            config["optimizer"] = opt
        if lr is not None:
            config["learning_rate"] = lr
            inner = config["optimizer"]
            if isinstance(inner, dict) and "type" in inner and "learning_rate" in inner:
                config["optimizer"] = dict(inner, learning_rate=lr)
        inner = config["optimizer"]
        if _is_unsaved(inner):
            missing.append(("optimizer", f"estimator {name!r} was trained with "
                                         f"{inner[UNSAVED]} as its optimizer"))
        elif isinstance(inner, dict):
            for field, value in inner.items():
                if _is_unsaved(value):
                    arg = "learning_rate" if field == "learning_rate" else "optimizer"
                    missing.append((arg, f"estimator {name!r}: the {field} of its "
                                         f"{inner.get('type')} optimizer was {value[UNSAVED]}"))
        if _is_unsaved(config["learning_rate"]):
            missing.append(("learning_rate", f"estimator {name!r}: its learning_rate was "
                                             f"{config['learning_rate'][UNSAVED]}"))
        out.append(config)
    if missing:
        args = ", ".join(f"{arg}=..." for arg in dict.fromkeys(arg for arg, _ in missing))
        several = " (a dict keyed by estimator name gives each its own)" if len(names) > 1 \
            else ""
        raise checkpoint.CheckpointError(
            f"{path} holds the model, but a file cannot hold Python objects, so pass these "
            f"again: {'; '.join(what for _, what in missing)}. Call stackit.load_model("
            f"{model_file!r}, {args}){several} with the same objects; the optimizer state "
            f"is then restored too.")
    return out
