"""`model.export` and `load_exported`: what `predict` computes, as a self-contained artifact.

The artifact is the serialized form of a `jax.export.Exported` (StableHLO inside), with the
model's parameters and layer state (batch-norm moving statistics, fitted preprocessing)
embedded as constants, so running it needs jax but neither stackit nor the model's code. The
function is `predict`'s in inference mode (no dropout, no augmentation, moving statistics);
its batch axis is a symbolic dimension named `batch`, so one artifact serves every batch size
(at least 1).

File format: the file holds exactly the bytes of `Exported.serialize()`, nothing before or
after them, and no file is written beside it. `jax.export.deserialize(bytearray(data))` reads
it anywhere; the input shapes and dtypes are in the result's `in_avals`. The function takes
one positional array per input, in the order `predict` takes a list (the order the inputs
were created, only those the outputs depend on), and returns one array, or a list with one
per output when the model has several (as `predict` does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from stackit import checkpoint
from stackit._atomic import atomic_write

__all__ = ["export_model", "exported_predict", "load_exported", "ExportedModel", "EXTENSION",
           "PLATFORMS"]

#: Added to a path that does not end with it (as `save` adds `.npz`).
EXTENSION = ".jaxexport"
#: The platforms `jax.export` can lower for.
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
#: The name of the symbolic batch dimension.
BATCH = "batch"


def export_model(model, path: str | os.PathLike, *,
                 platforms: str | Sequence[str] | None = None) -> str:
    """Writes `model`'s predict function to `path` (`.jaxexport` added when missing),
    atomically; returns the path written. See `DNN.export`.

    Raises:
        TypeError: If `path` is not a path or `platforms` not strings.
        ValueError: If `path` names a folder, `platforms` names an unknown platform, or the
            model has nothing to export (no layers, or no input shape yet).
    """
    path = _with_ext(checkpoint.check_path(path, "export"))
    checkpoint.check_path(path, "export")  # `<path>.jaxexport` may be a folder too
    exported = exported_predict(model, platforms)
    blob = exported.serialize()
    with atomic_write(path) as handle:
        handle.write(bytes(blob))
    return path


def exported_predict(model, platforms: str | Sequence[str] | None = None
                     ) -> jax_export.Exported:
    """`model`'s predict function as a `jax.export.Exported` (in memory), its batch axis
    symbolic and its parameters embedded."""
    platforms = _checked_platforms(platforms)
    steps, params, layer_state, nodes = _predict_parts(model)
    names = [node.name for node in nodes]
    single = len(steps.outputs) == 1

    def stackit_predict(*xs):
        values = steps.predict_batch(params, layer_state, dict(zip(names, xs, strict=True)))
        return values[0] if single else list(values)

    batch = jax_export.symbolic_shape(BATCH)[0]
    specs = [jax.ShapeDtypeStruct((batch, *node.sample_shape),
                                  jax.dtypes.canonicalize_dtype(node.layer.dtype))
             for node in nodes]
    return jax_export.export(jax.jit(stackit_predict), platforms=platforms)(*specs)


def _predict_parts(model):
    """The compiled steps, parameters, layer state and input nodes `predict` uses."""
    if getattr(model, "_pending", None) is not None:
        raise ValueError("export: this model has no input shape yet, so there is nothing to "
                         "export. Call model.build(input_shape), or fit/predict once, first.")
    outputs = getattr(model, "_outputs", None)
    if not outputs:
        raise ValueError("export: this model has no outputs to export (it has no layers). "
                         "Add layers (and an input shape) first.")
    ts = model._built_state()
    steps = model._built_steps()
    nodes = list(model.feeder.predict_inputs)
    if not nodes:
        raise ValueError("export: the model's outputs depend on no input, so there is no batch "
                         "axis to export.")
    return steps, ts.params, ts.layer_state, nodes


def _checked_platforms(platforms: str | Sequence[str] | None) -> tuple[str, ...]:
    if platforms is None:
        return (jax_export.default_export_platform(),)
    listed = [platforms] if isinstance(platforms, str) else platforms
    if not isinstance(listed, (list, tuple)) or not all(isinstance(p, str) for p in listed):
        raise TypeError(f"export: platforms must be a platform name or a sequence of them, "
                        f"e.g. ('cpu', 'cuda'). Received: platforms={platforms!r}.")
    if not listed:
        raise ValueError("export: platforms is empty. Expected at least one of "
                         f"{PLATFORMS}, e.g. platforms=('cpu', 'cuda').")
    for name in listed:
        if name not in PLATFORMS:
            hint = " ('gpu' is 'cuda' for NVIDIA, 'rocm' for AMD)" if name == "gpu" else ""
            raise ValueError(f"export: unknown platform {name!r}{hint}. Expected some of "
                             f"{PLATFORMS}. Received: platforms={platforms!r}.")
    return tuple(dict.fromkeys(listed))


def load_exported(path: str | os.PathLike) -> ExportedModel:
    """Reads a file written by `model.export` and returns a callable that runs it: numpy
    arrays in (one per input, in the model's input order), numpy out (one array, or a list
    with one per output). Running it needs neither the model nor its Python code.

    Args:
        path: The file (`.jaxexport` may be left out).

    Returns:
        An `ExportedModel`; its `exported` attribute is the `jax.export.Exported`.

    Raises:
        TypeError: If `path` is not a path.
        ValueError: If `path` is a folder, the file is not a `jax.export` artifact, or it was
            exported for other platforms than the one this process runs on.
        FileNotFoundError: If there is no such file.
    """
    path = checkpoint.check_path(path, "load_exported")
    if not os.path.exists(path):
        if not os.path.exists(_with_ext(path)):
            tried = path if path == _with_ext(path) else f"{path} (nor {_with_ext(path)})"
            raise FileNotFoundError(f"load_exported: no file {tried}. Expected a file "
                                    f"written by model.export(...).")
        path = checkpoint.check_path(_with_ext(path), "load_exported")
    with open(path, "rb") as handle:
        data = handle.read()
    exported = _deserialized(data, path)
    here = jax_export.default_export_platform()
    if here not in exported.platforms:
        raise ValueError(f"load_exported: {path} was exported for {exported.platforms}, and "
                         f"this process runs on {here!r}. Export it again with "
                         f"platforms=({here!r}, ...).")
    return ExportedModel(exported, path)


def _deserialized(data: bytes, path: str) -> jax_export.Exported:
    expected = ("Expected a file written by model.export(...): the bytes of a serialized "
                "jax.export.Exported.")
    if not data:
        raise ValueError(f"load_exported: {path} is empty. {expected}")
    if data[:4] == b"PK\x03\x04":
        raise ValueError(f"load_exported: {path} is a zip archive (a checkpoint written by "
                         f"model.save?), not an exported model. {expected} A checkpoint "
                         f"loads with stackit.load_model(path).")
    try:
        exported = jax_export.deserialize(bytearray(data))
        ok = (isinstance(exported.platforms, tuple) and bool(exported.platforms)
              and all(p in PLATFORMS for p in exported.platforms)
              and len(exported.in_avals) == _tree(exported.in_tree).num_leaves
              and bool(exported.mlir_module_serialized))
    except Exception as err:  # flatbuffers raises whatever garbage makes it raise
        raise ValueError(f"load_exported: {path} could not be read as an exported model "
                         f"({type(err).__name__}: {err}). {expected}") from None
    if not ok:
        raise ValueError(f"load_exported: {path} is not an exported model (its contents do "
                         f"not describe a function). {expected}")
    return exported


class ExportedModel:
    """A model exported with `model.export`, read back by `stackit.load_exported`.

    Call it with one array per input, in the model's input order (positionally, or as one
    list): `f(X)`, `f(X_a, X_b)` or `f([X_a, X_b])`. Each input is checked (count, per-sample
    shape, at least one sample, the same number of samples in all) and cast to the dtype the
    artifact takes; it returns numpy arrays as `predict` does.

    Attributes:
        exported: The `jax.export.Exported`.
        path: The file it was read from.
        input_shapes: Per input, its shape with `None` for the batch axis.
        input_dtypes: Per input, the numpy dtype the artifact takes.
        platforms: The platforms it was exported for.
    """

    def __init__(self, exported: jax_export.Exported, path: str = ""):
        self.exported = exported
        self.path = path
        self.input_shapes = tuple(tuple(None if jax_export.is_symbolic_dim(d) else int(d)
                                        for d in aval.shape) for aval in exported.in_avals)
        self.input_dtypes = tuple(np.dtype(aval.dtype) for aval in exported.in_avals)
        self.platforms = tuple(exported.platforms)
        positional = jax.tree.structure((tuple(range(len(self.input_shapes))), {}))
        if _tree(exported.in_tree) != positional:
            raise ValueError(f"load_exported: {path or 'this artifact'} takes nested "
                             f"arguments, so it was not written by model.export. Call it "
                             f"with jax.export.deserialize(...).call(...).")

    def __repr__(self) -> str:
        shapes = ", ".join(f"{shape}:{dtype}" for shape, dtype in
                           zip(self.input_shapes, self.input_dtypes, strict=True))
        return f"ExportedModel({self.path!r}, inputs=[{shapes}], platforms={self.platforms})"

    def __call__(self, *inputs: Any):
        n = len(self.input_shapes)
        if len(inputs) == 1 and n > 1 and isinstance(inputs[0], (list, tuple)) \
                and len(inputs[0]) == n:
            inputs = tuple(inputs[0])
        if len(inputs) != n:
            raise ValueError(f"This exported model takes {n} input(s), one array each, of "
                             f"shapes {list(self.input_shapes)}. Received: {len(inputs)}.")
        arrays = [self._checked(i, x) for i, x in enumerate(inputs)]
        sizes = {len(a) for a in arrays if a.ndim}
        if len(sizes) > 1:
            raise ValueError(f"The inputs must have the same number of samples. Received: "
                             f"{[len(a) for a in arrays]}.")
        out = jax.device_get(self.exported.call(*arrays))
        return [np.asarray(o) for o in out] if isinstance(out, list) else np.asarray(out)

    def _checked(self, i: int, x: Any) -> np.ndarray:
        shape, dtype = self.input_shapes[i], self.input_dtypes[i]
        where = "the input" if len(self.input_shapes) == 1 else f"input {i}"
        array = np.asarray(x)
        if not (jnp.issubdtype(array.dtype, jnp.number) or array.dtype == bool):
            raise TypeError(f"{where} must be numeric. Received: dtype={array.dtype}.")
        fits = array.ndim == len(shape) and all(
            want is None or got == want for got, want in zip(array.shape, shape, strict=True))
        if not fits:
            raise ValueError(f"{where} must have shape {shape} (None: any number of samples). "
                             f"Received: shape={array.shape}.")
        if any(want is None and got == 0 for got, want in zip(array.shape, shape, strict=True)):
            raise ValueError(f"{where} holds no samples; expected at least one. Received: "
                             f"shape={array.shape}.")
        if jnp.issubdtype(dtype, jnp.integer) and jnp.issubdtype(array.dtype, jnp.floating):
            if not np.array_equal(array, np.round(array)):
                raise ValueError(f"{where} takes whole numbers ({dtype}, e.g. token ids). "
                                 f"Received: dtype={array.dtype} with fractional values.")
        return array.astype(dtype, copy=False)


def _tree(treedef: Any) -> Any:
    """`treedef` for mypy, which misreads jax's `PyTreeDef` stub."""
    return treedef


def _with_ext(path: str) -> str:
    return path if path.endswith(EXTENSION) else path + EXTENSION
