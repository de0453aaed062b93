"""A graph of layer calls compiled into pure `init` and `apply` functions.

The graph is the set of `Tensor` nodes the outputs depend on. One topological order (parents
before children, ties broken by creation order) drives both functions. A layer applied at
several nodes (a shared layer) has one set of parameters, keyed by its name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from stackit import activations
from stackit.layers.base import Layer, Shape, Tensor, layer_name

__all__ = ["Network", "ancestors", "connected"]


def ancestors(tensors: Iterable[Tensor]) -> list[Tensor]:
    """Every node `tensors` depend on (themselves included), parents before children."""
    order: list[Tensor] = []
    seen: set[int] = set()
    for root in tensors:
        stack: list[tuple[Tensor, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in seen:
                continue
            if expanded:
                seen.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order


def connected(tensors: Iterable[Tensor]) -> list[Tensor]:
    """Every node linked to `tensors` through parents or children (tflearn's whole graph), in
    creation order."""
    found: dict[int, Tensor] = {}
    todo = list(tensors)
    while todo:
        node = todo.pop()
        if id(node) in found:
            continue
        found[id(node)] = node
        todo.extend(node.parents)
        todo.extend(node.children)
    return sorted(found.values(), key=lambda t: t.serial)


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One layer of a built network, for summaries: its first output shape and size."""

    layer: Layer
    shape: Shape
    n_params: int


class Network:
    """The nodes between the inputs and the requested tensors, as pure functions.

    Args:
        tensors: The tensors the network must compute (outputs and estimator nodes).

    Attributes:
        nodes: Every node, in topological order.
        inputs: The input nodes (`input_data`), in creation order.
        layers: Every distinct layer, in order of first use.

    Raises:
        ValueError: For two different layers with one name, or a shared layer applied to
            inputs of different shapes.
    """

    def __init__(self, tensors: Sequence[Tensor]):
        for tensor in tensors:
            if tensor.n_outputs > 1:
                raise ValueError(
                    f"{type(tensor.layer).__name__} {tensor.name!r} yields {tensor.n_outputs} "
                    f"outputs; a model computes tensors, so pass one of them "
                    f"(`tensor.outputs[i]`, or unpack what the layer call returned).")
        self.nodes = ancestors(tensors)
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        self.inputs = sorted((n for n in self.nodes if n.layer.n_inputs == 0),
                             key=lambda t: t.serial)
        self.layers: list[Layer] = []
        first: dict[str, Tensor] = {}
        for node in self.nodes:
            name = layer_name(node.layer)
            if name not in first:
                first[name] = node
                self.layers.append(node.layer)
            elif first[name].layer is not node.layer:
                raise ValueError(
                    f"Two different layers are named {name!r} in one model; names key the "
                    f"parameters. Give one another name, or build the second with reuse=True "
                    f"to share the first one's parameters.")
            elif node.input_shapes != first[name].input_shapes:
                raise ValueError(
                    f"Layer {name!r} is shared, but applied to inputs of different shapes: "
                    f"{_shapes(first[name].input_shapes)} and {_shapes(node.input_shapes)}.")
        self.first_node = first
        self.logits_layers: dict[str, Layer] = {}  # name → the same layer without activation

    def init(self, key: jax.Array) -> tuple[dict, dict, list[LayerRow]]:
        """Creates params and state for every layer (initializers draw on the host: nothing
        is compiled); also returns one row per layer."""
        params, state = self._init_arrays(key)
        rows = [LayerRow(layer, self.first_node[layer_name(layer)].sample_shape,
                         sum(x.size for x in jax.tree.leaves(params.get(layer.name, {}))))
                for layer in self.layers]
        return params, state, rows

    def _init_arrays(self, key: jax.Array) -> tuple[dict, dict]:
        params, state = {}, {}
        keys = jax.random.split(key, max(1, len(self.layers)))
        for layer, layer_key in zip(self.layers, keys, strict=False):
            node = self.first_node[layer_name(layer)]
            p, s, _ = layer.init(layer_key, node.input_shapes)
            p, s = _strong(p), _strong(s)
            if p:
                params[layer.name] = p
            if s:
                state[layer.name] = s
        return params, state

    def want_logits(self, node: Tensor, activation_name: str) -> bool:
        """Lets `apply` also return `node`'s value before its activation when that activation is
        `activation_name` (so a loss on softmax/sigmoid outputs can work from logits). Returns
        whether it can."""
        layer = node.layer
        act = getattr(layer, "activation", None) if layer.activation_last else None
        if act is None or activations.get(act) is not activations.get(activation_name):
            return False
        # `layer` has an `activation` field (found above); the Layer base declares none
        linear = dataclasses.replace(layer, activation="linear")  # type: ignore[call-arg]
        self.logits_layers[layer_name(layer)] = linear
        return True

    def apply(self, params: dict, state: dict, inputs: dict, *, training: bool,
              key: jax.Array | None, outputs: Sequence[Tensor],
              mask: jax.Array | None = None) -> tuple[list, dict, dict]:
        """Runs the nodes `outputs` depend on.

        Args:
            inputs: Arrays keyed by input layer name.
            outputs: The tensors to return.
            mask: (batch,) 1 for real samples, 0 for padding, for layers with `uses_mask`.

        Returns:
            `(values, logits, new_state)`: the outputs' values in order, the pre-activation
            values of nodes registered with `want_logits` (keyed by node index), and the layer
            state after this pass.
        """
        needed = ancestors(outputs)
        keys = (jax.random.split(key, len(self.nodes)) if key is not None else None)
        values: dict[int, jax.Array] = {}
        logits: dict[int, jax.Array] = {}
        new_state = dict(state)
        for node in sorted(needed, key=lambda n: self.index[id(n)]):
            i = self.index[id(node)]
            layer = node.layer
            name = layer_name(layer)
            if layer.n_inputs == 0:
                x = inputs[name]
            elif layer.n_inputs == -1:
                x = [values[self.index[id(p)]] for p in node.parents]
            else:
                x = values[self.index[id(node.parents[0])]]
            extra = {"mask": mask} if mask is not None and layer.uses_mask else {}
            linear = self.logits_layers.get(name)
            run = linear if linear is not None else layer
            y, s = run.apply(params.get(name, {}), new_state.get(name, {}), x,
                             training=training, key=None if keys is None else keys[i], **extra)
            if linear is not None:
                logits[i] = y
                y = activations.get(layer.activation)(y)  # type: ignore[attr-defined]
            if s:
                new_state[name] = s
            values[i] = y
        return [values[self.index[id(t)]] for t in outputs], logits, new_state

    def values_per_sample(self) -> int:
        """The values one sample's forward pass computes over all nodes (unknown sizes count
        as 1): an upper bound on its activations, to size evaluation batches."""
        total = 0
        for node in self.nodes:
            shapes: Any = node.sample_shape if node.n_outputs > 1 else (node.sample_shape,)
            for shape in shapes:
                total += math.prod(d if isinstance(d, int) and d > 0 else 1 for d in shape)
        return max(total, 1)

    def penalty(self, params: dict) -> jax.Array | float:
        """Sum of the layers' weight-decay terms."""
        return sum(layer.penalty(params[layer.name]) for layer in self.layers
                   if layer.name in params)

    def frozen_layers(self) -> set[str]:
        """Names of layers created with `trainable=False`."""
        return {layer_name(layer) for layer in self.layers if not layer.trainable}

    def kept_layers(self) -> set[str]:
        """Names of layers created with `restore=False` (loading leaves them as they are)."""
        return {layer_name(layer) for layer in self.layers if not layer.restore}

    @property
    def scan_slow_on_cpu(self) -> bool:
        """Whether a layer's training step is much slower inside `lax.scan` on XLA:CPU."""
        return any(layer.cpu_scan_slow for layer in self.layers)


def _shapes(shapes) -> str:
    if isinstance(shapes, list):
        return str([(None, *s) for s in shapes])
    return str((None, *shapes))


def _strong(tree):
    """Drops weak types (from Python-scalar fills), so the first and later steps share one
    compilation."""
    return jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.result_type(a)), tree)
