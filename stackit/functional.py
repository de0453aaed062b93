"""Keras's functional `Model(inputs, outputs)`, and `load_model` (a model from a file alone)."""

from __future__ import annotations

from typing import Any

from stackit import model_io
from stackit.layers.base import Tensor
from stackit.model import DNN
from stackit.network import Network

__all__ = ["Model", "load_model"]


class Model(DNN):
    """A model over a graph: tflearn's `DNN(network)`, or Keras's functional
    `Model(inputs=[a, b], outputs=[y1, y2])` with tensors from `stackit.layers.Input`.

    With `inputs`/`outputs`, the model holds exactly the layers between them; estimators come
    from `regression(...)` on the outputs or from `compile(...)`.

    Raises:
        ValueError: If an output depends on an input that is not in `inputs`.
    """

    def __init__(self, inputs=None, outputs=None, network=None, **kwargs):
        if outputs is None:  # DNN spelling: Model(network, ...)
            super().__init__(network if network is not None else inputs, **kwargs)
            return
        ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for what, tensors in (("inputs", ins), ("outputs", outs)):
            for t in tensors:
                if not isinstance(t, Tensor):
                    raise TypeError(f"Model: {what} must be tensors (from Input(...) and layer "
                                    f"calls). Received: {type(t).__name__}.")
        for t in ins:
            if t.layer.n_inputs != 0:
                raise ValueError(f"Model: inputs must come from Input(...)/input_data(...). "
                                 f"Received: {t!r}.")
        self.search_estimators = False
        super().__init__(outs, **kwargs)
        check_inputs_cover(self.net, ins)


def load_model(model_file: str, *, optimizer: Any = None, learning_rate: Any = None,
               **dnn_kwargs) -> DNN:
    """Rebuilds a model from a file written by `save` alone: the graph from the saved layer
    configs, then every saved array (and the layers frozen with `freeze`).

    Args:
        model_file: The file (`.npz` may be left out).
        optimizer: Replaces the saved optimizer: needed when the model was trained with an
            optax transformation (a file cannot hold one). One for every estimator, or a
            dict keyed by estimator name. Defaults to `None` (the saved one).
        learning_rate: Replaces the saved learning rate (the optimizer's own, when it has
            one): needed when it was a Python callable, e.g. an optax schedule. A value or a
            dict keyed by estimator name. Defaults to `None`.
        **dnn_kwargs: `DNN` arguments to override (e.g. `checkpoint_path`); the saved seed,
            `clip_gradients`, `clip_value` and `mixed_precision` are used otherwise.

    Raises:
        CheckpointError: If the file is corrupt, an optimizer or learning rate it could not
            hold was not passed again (the message says which and how), or a layer held a
            Python callable (a custom activation, a lambda) that a config cannot describe:
            then rebuild the network in code and call `model.load(model_file)`.
    """
    path, outputs, meta = model_io.read_graph(model_file, optimizer, learning_rate)
    kwargs = {"seed": meta.get("seed"), "clip_gradients": meta.get("clip_gradients", 5.0),
              "clip_value": meta.get("clip_value"),
              "mixed_precision": meta.get("mixed_precision"), **dnn_kwargs}
    model = DNN(outputs[0] if len(outputs) == 1 else outputs, **kwargs)
    frozen = meta.get("frozen")
    if isinstance(frozen, list) and all(isinstance(name, str) for name in frozen):
        model._set_frozen(set(frozen))  # before loading: the optimizer state's structure
    model.load(path, weights_only=bool(meta.get("weights_only")))
    return model


def check_inputs_cover(net: Network, inputs: list[Tensor]) -> None:
    given = {id(t) for t in inputs}
    for node in net.inputs:
        if id(node) not in given:
            raise ValueError(f"Model: the outputs depend on input {node.name!r}, which is not in "
                             f"inputs ({[t.name for t in inputs]}). Pass every input the outputs "
                             f"need; a tensor from another model cannot be mixed in.")
