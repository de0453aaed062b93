"""A list of layer descriptors compiled into pure `init` and `apply` functions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from stackit import activations
from stackit.layers.base import Layer, Shape, layer_name
from stackit.layers.core import InputData
from stackit.layers.estimator import Regression
from stackit.losses import Loss

__all__ = ["Network"]


class Network:
    """The layers between the input and the estimator, as pure functions.

    Args:
        layers: Layer descriptors in order. An `InputData` first declares the input shape; a
            `Regression` last declares the estimator.

    Attributes:
        input_layer: The `InputData` layer (None until the input shape is known).
        estimator: The `Regression` layer, or None for a predict-only network.
        body: The layers that transform data, input layer included.
    """

    def __init__(self, layers: Sequence[Layer]):
        layers = list(layers)
        if not layers:
            raise ValueError("A model needs at least one layer. Received: layers=[].")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Expected layer descriptors (e.g. stackit.layers.Dense(10)). "
                                f"Received: layers[{i}]={layer!r}.")
        names = [layer_name(layer) for layer in layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Layer names must be unique within a model; they key the saved "
                             f"parameters. Received duplicate names: {duplicates}.")
        self.estimator = layers[-1] if isinstance(layers[-1], Regression) else None
        if any(isinstance(layer, Regression) for layer in layers[:-1]):
            raise ValueError("regression(...) must be the network's last layer.")
        self.body = layers[:-1] if self.estimator else layers
        self.input_layer = self.body[0] if isinstance(self.body[0], InputData) else None
        if any(isinstance(layer, InputData) for layer in self.body[1:]):
            raise ValueError("input_data(...) must be the network's first layer "
                             "(one input per model).")
        self.logits_layers: list[Layer] | None = None
        self.output_activation = activations.linear

    @property
    def layers(self) -> list[Layer]:
        return self.body + ([self.estimator] if self.estimator else [])

    def with_input_shape(self, shape: Shape) -> None:
        """Declares the input shape of a network built without `input_data` (Keras style)."""
        self.input_layer = InputData(tuple(shape), name=_fresh_input_name(self.body))
        self.body = [self.input_layer, *self.body]

    def init(self, key: jax.Array) -> tuple[dict, dict, list[tuple[Layer, Shape, int]]]:
        """Creates params and state; also returns (layer, output shape, parameter count) rows."""
        params, state, rows = {}, {}, []
        shape: Shape = ()
        for layer, layer_key in zip(self.body, jax.random.split(key, len(self.body)), strict=False):
            p, s, shape = layer.init(layer_key, shape)
            p, s = _strong(p), _strong(s)
            if p:
                params[layer.name] = p
            if s:
                state[layer.name] = s
            rows.append((layer, tuple(shape), sum(x.size for x in jax.tree.leaves(p))))
        return params, state, rows

    def use_loss(self, loss: Loss) -> None:
        """Lets `apply(..., logits=True)` stop before the last activation when `loss` wants it."""
        wanted = loss.logits_of or loss.stable_activation
        last = self.body[-1]
        act = getattr(last, "activation", None)
        if wanted is None or act is None:
            return
        if activations.get(act) is activations.get(wanted):
            # `last` has an `activation` field (found above); the Layer base declares none
            linear = dataclasses.replace(last, activation="linear")  # type: ignore[call-arg]
            self.logits_layers = [*self.body[:-1], linear]
            self.output_activation = activations.get(wanted)

    def apply(self, params: dict, state: dict, x: jax.Array, *, training: bool,
              key: jax.Array | None, logits: bool = False,
              mask: jax.Array | None = None) -> tuple[jax.Array, dict]:
        """Runs the layers on a batch. With `logits=True` (after `use_loss`), the last
        activation is left out so the loss can be computed stably. `mask` (batch,) marks real
        samples for layers that compute batch statistics (`uses_mask`)."""
        layers = self.logits_layers if (logits and self.logits_layers) else self.body
        keys = jax.random.split(key, len(layers)) if key is not None else [None] * len(layers)
        new_state = {}
        for layer, layer_key in zip(layers, keys, strict=False):
            wants_mask = mask is not None and getattr(layer, "uses_mask", False)
            extra = {"mask": mask} if wants_mask else {}
            x, s = layer.apply(params.get(layer.name, {}), state.get(layer.name, {}), x,
                               training=training, key=layer_key, **extra)
            if s:
                new_state[layer.name] = s
        return x, new_state

    def penalty(self, params: dict) -> jax.Array | float:
        """Sum of the layers' weight-decay terms."""
        return sum(layer.penalty(params[layer.name]) for layer in self.body
                   if layer.name in params)

    def all_layers(self) -> list[Layer]:
        """Every layer, including those inside composites such as `Merge`."""
        found, todo = [], list(self.layers)
        while todo:
            layer = todo.pop(0)
            found.append(layer)
            todo[:0] = getattr(layer, "layers", [])
        return found

    def frozen_layers(self) -> set[str]:
        """Names of layers created with `trainable=False`."""
        return {layer_name(layer) for layer in self.all_layers()
                if getattr(layer, "trainable", True) is False}

    @property
    def scan_slow_on_cpu(self) -> bool:
        """Whether a layer's training step is much slower inside `lax.scan` on XLA:CPU."""
        return any(getattr(layer, "cpu_scan_slow", False) for layer in self.body)


def _strong(tree):
    """Drops weak types (from Python-scalar fills), so the first and later steps share one
    compilation."""
    return jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.result_type(a)), tree)


def _fresh_input_name(layers: Sequence[Layer]) -> str:
    taken = {layer.name for layer in layers}
    name, i = "InputData", 1
    while name in taken:
        name, i = f"InputData_{i}", i + 1
    return name
