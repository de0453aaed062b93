"""Merging branches: `merge([a, b], mode='concat')`, tflearn's non-linear topologies.

Branches are chains that start from a common tensor (e.g. two `fully_connected` on the same
input, or a residual path beside an identity). `Merge` is a composite descriptor: it holds each
branch's layers, so the model stays a list of layers. Branch parameters live under the merge's
name (`params['Merge']['FullyConnected_1']['W']`); handles such as `branch.W` still work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from stackit.layers.base import Layer, Shape, Tensor

__all__ = ["Merge", "merge"]

_ELEMENTWISE = ("elemwise_sum", "elemwise_mul")
_REDUCING: dict[str, Callable[..., jax.Array]] = {
    "sum": jnp.sum, "mean": jnp.mean, "prod": jnp.prod, "max": jnp.max, "min": jnp.min,
    "and": jnp.all, "or": jnp.any}
MODES = ("concat", *_ELEMENTWISE, *_REDUCING)


@dataclasses.dataclass(frozen=True)
class Merge(Layer):
    """Runs each branch on the same input and merges their outputs.

    Args:
        branches: One tuple of layers per branch (an empty tuple is the identity).
        mode: One of `MODES`: `'concat'` joins along `axis`; `'elemwise_sum'`/`'elemwise_mul'`
            add/multiply same-shaped outputs; `'sum'`, `'mean'`, `'prod'`, `'max'`, `'min'`,
            `'and'`, `'or'` concatenate along `axis` and reduce it away (tflearn).
        axis: Axis counted with the batch axis first, as in tflearn. Defaults to `1`.
    """

    branches: tuple = ()
    mode: str = "concat"
    axis: int = 1
    default_name = "Merge"
    fn_name = "merge"
    uses_mask = True  # forwarded to branch layers that compute batch statistics

    def check(self):
        if len(self.branches) < 2:
            raise self.error("expected 2 or more tensors to merge.", n=len(self.branches))
        if self.mode not in MODES:
            raise self.error(f"mode must be one of {MODES}.", mode=self.mode)
        if not isinstance(self.axis, int) or self.axis == 0:
            raise self.error("axis counts the batch axis first and cannot be 0 (the batch).",
                             axis=self.axis)
        object.__setattr__(self, "branches", tuple(tuple(b) for b in self.branches))

    @property
    def layers(self) -> list[Layer]:
        """Every layer of every branch."""
        return [layer for branch in self.branches for layer in branch]

    @property
    def cpu_scan_slow(self) -> bool:  # type: ignore[override]
        return any(getattr(layer, "cpu_scan_slow", False) for layer in self.layers)

    def _combine(self, outputs: list[jax.Array]) -> jax.Array:
        if self.mode in _ELEMENTWISE:
            result = outputs[0]
            for out in outputs[1:]:
                result = result + out if self.mode == "elemwise_sum" else result * out
            return result
        joined = jnp.concatenate(outputs, axis=self.axis)
        if self.mode == "concat":
            return joined
        reduced = _REDUCING[self.mode](joined, axis=self.axis)
        return reduced.astype(jnp.float32) if self.mode in ("and", "or") else reduced

    def init(self, key, input_shape):
        params, state, shapes = {}, {}, []
        keys = jax.random.split(key, max(1, len(self.layers)))
        i = 0
        for branch in self.branches:
            shape: Shape = tuple(input_shape)
            for layer in branch:
                p, s, shape = layer.init(keys[i], shape)
                i += 1
                if p:
                    params[layer.name] = p
                if s:
                    state[layer.name] = s
            shapes.append(shape)
        return params, state, self._merged_shape(shapes)

    def _merged_shape(self, shapes: list[Shape]) -> Shape:
        if self.mode in _ELEMENTWISE:
            if len(set(shapes)) != 1:
                raise self.error(f"{self.mode} needs branches of one shape.",
                                 shapes=[(None, *s) for s in shapes])
            return shapes[0]
        ranks = {len(s) for s in shapes}
        axis = self.axis - 1 if self.axis > 0 else self.axis
        if len(ranks) != 1 or not -len(shapes[0]) <= axis < len(shapes[0]):
            raise self.error("branches must have one rank that includes the merge axis.",
                             axis=self.axis, shapes=[(None, *s) for s in shapes])
        others = {tuple(d for j, d in enumerate(s) if j != axis % len(s)) for s in shapes}
        if len(others) != 1:
            raise self.error("branch shapes may differ only along the merge axis.",
                             axis=self.axis, shapes=[(None, *s) for s in shapes])
        joined = list(shapes[0])
        joined[axis] = sum(s[axis] for s in shapes)
        if self.mode != "concat":
            del joined[axis]
        return tuple(joined)

    def apply(self, params, state, x, *, training, key, mask=None):
        layers = self.layers
        keys = jax.random.split(key, max(1, len(layers))) if key is not None else None
        outputs, new_state, i = [], {}, 0
        for branch in self.branches:
            y = x
            for layer in branch:
                extra = {"mask": mask} if mask is not None and getattr(
                    layer, "uses_mask", False) else {}
                y, s = layer.apply(params.get(layer.name, {}), state.get(layer.name, {}), y,
                                   training=training, key=None if keys is None else keys[i],
                                   **extra)
                i += 1
                if s:
                    new_state[layer.name] = s
            outputs.append(y)
        return self._combine(outputs), new_state

    def penalty(self, params):
        return sum(layer.penalty(params[layer.name]) for layer in self.layers
                   if layer.name in params)


def merge(tensors_list: Sequence[Tensor], mode: str, axis: int = 1,
          name: str | None = None) -> Tensor:
    """Merges tensors that branch from one common tensor (tflearn's `merge`).

    Example:
        net = input_data(shape=[None, 8])
        a = fully_connected(net, 16, activation='relu')
        b = fully_connected(net, 16, activation='tanh')
        net = merge([a, b], mode='concat')          # (None, 32)
        net = merge([net, fully_connected(net, 32)], mode='elemwise_sum')  # a residual sum

    Raises:
        ValueError: For fewer than two tensors, an unknown mode, shapes that do not merge, or
            tensors with no common source (several inputs are not supported).
    """
    tensors = list(tensors_list)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"merge: expected layer outputs. Received: tensors_list[{i}]="
                            f"{type(t).__name__}.")
    if len(tensors) < 2:
        raise ValueError(f"merge: expected 2 or more tensors. Received: {len(tensors)}.")
    paths = [_nodes(t) for t in tensors]
    common = None
    for candidate in reversed(paths[0]):
        if all(any(candidate is node for node in path) for path in paths[1:]):
            common = candidate
            break
    if common is None:
        raise ValueError("merge: the tensors share no common source; models with several "
                         "input_data layers are not supported yet.")
    branches = []
    for path in paths:
        start = next(i for i, node in enumerate(path) if node is common)
        branches.append(tuple(node.layer for node in path[start + 1:]))
    return Merge(tuple(branches), mode, axis, name=name)(common)


def _nodes(tensor: Tensor) -> list[Tensor]:
    nodes: list[Tensor] = []
    node: Tensor | None = tensor
    while node is not None:
        nodes.append(node)
        node = node.parent
    return nodes[::-1]
