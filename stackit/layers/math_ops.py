"""Arithmetic on tensors: `a + b`, `-t`, `log(t)`, `reduce_mean(t)` build graph nodes.

tflearn scripts write losses from layer outputs, e.g. the GAN's
`-reduce_mean(log(disc_real) + log(1. - disc_fake))`, and pass them to
`regression(..., loss=that_tensor)`. Each operation here is one parameter-free `Operation`
node. A reduction over the batch axis weighs only the real samples of a padded batch.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp

from stackit.layers.base import Layer, Tensor

__all__ = ["Operation", "add", "subtract", "multiply", "divide", "negative", "log", "exp",
           "sqrt", "square", "abs", "reduce_mean", "reduce_sum"]

_UNARY: dict[str, Callable] = {"neg": jnp.negative, "log": jnp.log, "exp": jnp.exp,
                               "sqrt": jnp.sqrt, "square": jnp.square, "abs": jnp.abs}
_BINARY: dict[str, Callable] = {"add": jnp.add, "sub": jnp.subtract, "mul": jnp.multiply,
                                "div": jnp.divide}
_REDUCE = ("reduce_mean", "reduce_sum")


@dataclasses.dataclass(frozen=True)
class Operation(Layer):
    """One element-wise or reducing operation on tensors and constants.

    Args:
        op: `'add'`, `'sub'`, `'mul'`, `'div'` (two operands), `'neg'`, `'log'`, `'exp'`,
            `'sqrt'`, `'square'`, `'abs'` (one), `'reduce_mean'`, `'reduce_sum'`.
        operands: For each operand, None (the next input tensor) or a number (a constant).
        batched: For each input tensor, whether it has a batch axis.
        axis: For reductions: None (every axis, batch included) or an axis counted with the
            batch axis first. Defaults to `None`.
    """

    op: str = "add"
    operands: tuple = (None,)
    batched: tuple = (True,)
    axis: int | None = None
    default_name = "Operation"
    fn_name = "operation"
    n_inputs = -1
    uses_mask = True

    def check(self):
        known = (*_UNARY, *_BINARY, *_REDUCE)
        if self.op not in known:
            raise self.error(f"op must be one of {known}.", op=self.op)

    @property
    def reduces_batch(self) -> bool:
        """Whether the output has lost the batch axis (a reduction over it)."""
        return self.op in _REDUCE and (self.axis is None or self.axis == 0)

    @property
    def out_batched(self) -> bool:
        return any(self.batched) and not self.reduces_batch

    def _compute(self, xs: list, mask=None):
        it = iter(xs)
        args = [next(it) if v is None else jnp.float32(v) for v in self.operands]
        if self.op in _UNARY:
            return _UNARY[self.op](args[0])
        if self.op in _BINARY:
            return _BINARY[self.op](args[0], args[1])
        x = args[0]
        if not self.reduces_batch or mask is None or not self.batched[0]:
            fn = jnp.mean if self.op == "reduce_mean" else jnp.sum
            return fn(x, axis=self.axis)
        weights = mask.reshape((-1,) + (1,) * (x.ndim - 1))
        total = jnp.sum(x * weights)
        if self.op == "reduce_sum":
            return total
        return total / jnp.maximum(jnp.sum(mask) * (x.size // x.shape[0]), 1.0)

    def init(self, key, input_shape):
        del key
        structs = [jax.ShapeDtypeStruct(((1,) if b else ()) + tuple(s), jnp.float32)
                   for s, b in zip(input_shape, self.batched, strict=True)]
        out = jax.eval_shape(lambda *xs: self._compute(list(xs)), *structs)
        return {}, {}, tuple(out.shape[1:] if self.out_batched else out.shape)

    def apply(self, params, state, x, *, training, key, mask=None):
        del params, training, key
        return self._compute(list(x), mask), state


def _node(op: str, *operands, axis: int | None = None) -> Tensor:
    tensors = [v for v in operands if isinstance(v, Tensor)]
    if not tensors:
        raise TypeError(f"{op}: expected at least one tensor operand. Received: {operands!r}.")
    for v in operands:
        if not isinstance(v, (Tensor, int, float)) or isinstance(v, bool):
            raise TypeError(f"{op}: operands must be tensors or numbers. Received: {v!r}.")
    layer = Operation(op, tuple(None if isinstance(v, Tensor) else float(v) for v in operands),
                      tuple(t.batched for t in tensors), axis)
    return Tensor(layer, tuple(tensors))


def add(a, b) -> Tensor:
    """`a + b` (tensors or numbers)."""
    return _node("add", a, b)


def subtract(a, b) -> Tensor:
    """`a - b`."""
    return _node("sub", a, b)


def multiply(a, b) -> Tensor:
    """`a * b`, element-wise."""
    return _node("mul", a, b)


def divide(a, b) -> Tensor:
    """`a / b`, element-wise."""
    return _node("div", a, b)


def negative(x: Tensor) -> Tensor:
    """`-x`."""
    return _node("neg", x)


def log(x: Tensor) -> Tensor:
    """Natural logarithm, element-wise."""
    return _node("log", x)


def exp(x: Tensor) -> Tensor:
    """`e ** x`, element-wise."""
    return _node("exp", x)


def sqrt(x: Tensor) -> Tensor:
    """Square root, element-wise."""
    return _node("sqrt", x)


def square(x: Tensor) -> Tensor:
    """`x ** 2`, element-wise."""
    return _node("square", x)


def abs(x: Tensor) -> Tensor:  # noqa: A001 - TensorFlow's name
    """Absolute value, element-wise."""
    return _node("abs", x)


def reduce_mean(x: Tensor, axis: int | None = None) -> Tensor:
    """Mean over `axis` (None: over everything, a scalar; padded batch rows do not count)."""
    return _node("reduce_mean", x, axis=axis)


def reduce_sum(x: Tensor, axis: int | None = None) -> Tensor:
    """Sum over `axis` (None: over everything, a scalar; padded batch rows do not count)."""
    return _node("reduce_sum", x, axis=axis)


Tensor.arithmetic = sys.modules[__name__]  # `a + b` on tensors builds the nodes above
