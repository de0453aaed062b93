"""Merging tensors: `merge([a, b], mode='concat')`, tflearn's non-linear topologies.

`Merge` takes a list of tensors from anywhere in the graph (different inputs, different
depths) and joins them; it has no parameters of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from stackit.layers.base import Layer, Shape, Tensor
from stackit.layers.naming import tflearn_name

__all__ = ["Merge", "merge", "merge_outputs"]

_ELEMENTWISE = ("elemwise_sum", "elemwise_mul")
_REDUCING: dict[str, Callable[..., jax.Array]] = {
    "sum": jnp.sum, "mean": jnp.mean, "prod": jnp.prod, "max": jnp.max, "min": jnp.min,
    "and": jnp.all, "or": jnp.any}
MODES = ("concat", *_ELEMENTWISE, *_REDUCING)


@dataclasses.dataclass(frozen=True)
class Merge(Layer):
    """Joins a list of tensors into one.

    Args:
        mode: One of `MODES`: `'concat'` joins along `axis`; `'elemwise_sum'`/`'elemwise_mul'`
            add/multiply same-shaped tensors; `'sum'`, `'mean'`, `'prod'`, `'max'`, `'min'`,
            `'and'`, `'or'` concatenate along `axis` and reduce it away (tflearn).
        axis: Axis counted with the batch axis first, as in tflearn. Defaults to `1`.

    Input shape: a list of `(batch, ...)`. Output shape: depends on `mode`.

    Example: `Merge('concat')([a, b])` or `merge([a, b], 'concat')`.
    """

    mode: str = "concat"
    axis: int = 1
    default_name = "Merge"
    fn_name = "merge"
    n_inputs = -1

    def check(self):
        if self.mode not in MODES:
            raise self.error(f"mode must be one of {MODES}.", mode=self.mode)
        if isinstance(self.axis, bool) or not isinstance(self.axis, int) or self.axis == 0:
            raise self.error("axis counts the batch axis first and cannot be 0 (the batch).",
                             axis=self.axis)

    def init(self, key, input_shape):
        del key
        return {}, {}, self._merged_shape([tuple(s) for s in input_shape])

    def _merged_shape(self, shapes: list[Shape]) -> Shape:
        if len(shapes) < 2:
            raise self.error("expected 2 or more tensors to merge.", n=len(shapes))
        if self.mode in _ELEMENTWISE:
            if len(set(shapes)) != 1:
                raise self.error(f"{self.mode} needs tensors of one shape.",
                                 shapes=[(None, *s) for s in shapes])
            return shapes[0]
        ranks = {len(s) for s in shapes}
        axis = self.axis - 1 if self.axis > 0 else self.axis
        if len(ranks) != 1 or not -len(shapes[0]) <= axis < len(shapes[0]):
            raise self.error("tensors must have one rank that includes the merge axis.",
                             axis=self.axis, shapes=[(None, *s) for s in shapes])
        others = {tuple(d for j, d in enumerate(s) if j != axis % len(s)) for s in shapes}
        if len(others) != 1:
            raise self.error("tensor shapes may differ only along the merge axis.",
                             axis=self.axis, shapes=[(None, *s) for s in shapes])
        joined = list(shapes[0])
        joined[axis] = sum(s[axis] for s in shapes)
        if self.mode != "concat":
            del joined[axis]
        return tuple(joined)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        outputs = list(x)
        if self.mode in _ELEMENTWISE:
            result = outputs[0]
            for out in outputs[1:]:
                result = result + out if self.mode == "elemwise_sum" else result * out
            return result, state
        joined = jnp.concatenate(outputs, axis=self.axis)
        if self.mode == "concat":
            return joined, state
        reduced = _REDUCING[self.mode](joined, axis=self.axis)
        return (reduced.astype(jnp.float32) if self.mode in ("and", "or") else reduced), state


def merge(tensors_list: Sequence[Tensor], mode: str, axis: int = 1,
          name: str | None = None) -> Tensor:
    """Merges tensors from anywhere in the graph (tflearn's `merge`).

    Example:
        wide = input_data(shape=[None, 8], name='wide')
        deep = fully_connected(input_data(shape=[None, 32], name='deep'), 16)
        net = merge([wide, deep], mode='concat')               # (None, 24)
        net = merge([net, fully_connected(net, 24)], mode='elemwise_sum')  # a residual sum

    Raises:
        ValueError: For fewer than two tensors, an unknown mode or shapes that do not merge.
    """
    tensors: list = list(tensors_list) if isinstance(tensors_list, (list, tuple)) \
        else [tensors_list]
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"merge: expected layer outputs. Received: tensors_list[{i}]="
                            f"{type(t).__name__}.")
    if len(tensors) < 2:
        raise ValueError(f"merge: expected 2 or more tensors. Received: {len(tensors)}.")
    return Merge(mode=mode, axis=axis, name=tflearn_name(name))(tensors)


def merge_outputs(tensor_list: Sequence[Tensor], name: str | None = None) -> Tensor:
    """Concatenates network outputs along axis 1 (tflearn's `merge_outputs`); one tensor is
    returned as it is.

    Example: `net = merge_outputs([branch_a, branch_b])`.
    """
    tensors: list = (list(tensor_list) if isinstance(tensor_list, (list, tuple))
                     else [tensor_list])
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return tensors[0]
    return merge(tensors, "concat", axis=1, name=name)
