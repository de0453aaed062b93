"""Mixed precision: compute in bfloat16 or float16, keep parameters, optimizer state, losses
and batch-norm statistics in float32.

`DNN(net, mixed_precision='bfloat16')` casts the float32 parameters and float inputs to the
compute dtype inside each compiled step (the casts fuse into the first use; the gradients come
back float32 through them), runs the layers in that dtype, and casts the outputs back to
float32 before the loss, the metrics and `predict`. Layers that turn integer inputs into floats
(`as_float`) pick the compute dtype from `float_dtype()`, set while the graph is traced.

float16's narrow range needs loss scaling: `dynamic_loss_scale` wraps an optimizer so the loss
is multiplied by a scale held in the optimizer state (saved and resumed with it), the gradients
divided by it, steps whose gradients overflow skipped, and the scale halved after an overflow
and doubled after `period` good steps. bfloat16 has float32's range and needs none.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["POLICIES", "policy_name", "compute_dtype", "computing_in", "float_dtype",
           "to_compute", "to_float32", "LossScaleState", "dynamic_loss_scale", "loss_scale"]

#: Accepted spellings of `mixed_precision=` and the compute dtype each names (None: float32).
POLICIES: dict[str, str | None] = {
    "bfloat16": "bfloat16", "bf16": "bfloat16", "mixed_bfloat16": "bfloat16",
    "float16": "float16", "fp16": "float16", "mixed_float16": "float16",
    "float32": None, "fp32": None,
}

_HALF = (jnp.bfloat16, jnp.float16)
_FLOAT_DTYPE: contextvars.ContextVar[Any] = contextvars.ContextVar("stackit_float_dtype",
                                                                   default=jnp.float32)


def policy_name(value: str | None) -> str | None:
    """The canonical compute dtype named by `mixed_precision=` ('bfloat16', 'float16'), or
    None for float32 throughout.

    Raises:
        TypeError: If `value` is not a string or None.
        ValueError: If it names no policy (the message lists the spellings).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"mixed_precision must be a string such as 'bfloat16', or None. "
                        f"Received: mixed_precision={value!r}.")
    key = value.strip().lower()
    if key not in POLICIES:
        raise ValueError(f"Unknown mixed_precision {value!r}. Expected one of: "
                         f"{', '.join(POLICIES)} (or None).")
    return POLICIES[key]


def compute_dtype(name: str | None) -> Any:
    """The jnp dtype of a canonical policy name; float32 for None."""
    return jnp.float32 if name is None else jnp.dtype(name)


@contextlib.contextmanager
def computing_in(dtype: Any) -> Iterator[None]:
    """Within the block, `float_dtype()` is `dtype` (layers cast integer inputs to it)."""
    token = _FLOAT_DTYPE.set(dtype)
    try:
        yield
    finally:
        _FLOAT_DTYPE.reset(token)


def float_dtype() -> Any:
    """The dtype layers compute in: float32 unless a mixed-precision step is being traced."""
    return _FLOAT_DTYPE.get()


def to_compute(tree, dtype: Any):
    """`tree` with its float leaves cast to `dtype` (integer leaves, e.g. ids, untouched)."""
    if dtype == jnp.float32:
        return tree
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating)
                        else a, tree)


def to_float32(tree):
    """`tree` with its bfloat16 / float16 leaves cast to float32."""
    return jax.tree.map(lambda a: a.astype(jnp.float32) if a.dtype in _HALF else a, tree)


class LossScaleState(NamedTuple):
    """The optimizer state of `dynamic_loss_scale`: the scale, the good steps since it last
    changed, and the wrapped optimizer's state."""

    scale: jax.Array
    good_steps: jax.Array
    inner: Any


def dynamic_loss_scale(inner: optax.GradientTransformation, initial: float = 2.0 ** 15,
                       period: int = 2000, factor: float = 2.0,
                       min_scale: float = 1.0) -> optax.GradientTransformation:
    """`inner` behind a dynamic loss scale (the train step multiplies the loss by
    `loss_scale(state)` and divides the gradients by it before `update`).

    A step whose gradients are not all finite changes nothing but the scale, which drops by
    `factor` (not below `min_scale`); after `period` finite steps in a row it grows by
    `factor`.
    """

    def init(params):
        return LossScaleState(jnp.asarray(initial, jnp.float32), jnp.zeros((), jnp.int32),
                              inner.init(params))

    def update(grads, state, params=None):
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
        updates, new_inner = inner.update(grads, state.inner, params)
        updates = jax.tree.map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), updates)
        new_inner = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_inner,
                                 state.inner)
        grow = state.good_steps + 1 >= period
        scale = jnp.where(finite, jnp.where(grow, state.scale * factor, state.scale),
                          jnp.maximum(state.scale / factor, min_scale))
        good = jnp.where(finite & ~grow, state.good_steps + 1, 0).astype(jnp.int32)
        return updates, LossScaleState(scale, good, new_inner)

    return optax.GradientTransformation(init, update)


def loss_scale(opt_state: Any) -> jax.Array | None:
    """The loss scale held in an optimizer state of `dynamic_loss_scale`, else None."""
    return opt_state.scale if isinstance(opt_state, LossScaleState) else None
