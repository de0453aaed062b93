"""Weight penalties by tflearn's names: `'L2'` is `wd * sum(W**2) / 2`; `'L1'`, `wd * sum(|W|)`;
`'L1L2'`, both. A layer adds `regularizer(W, weight_decay)` to its estimators' losses."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable

import jax.numpy as jnp

from stackit._registry import configurable, lookup

__all__ = ["get", "L1", "L2", "L1L2"]


def L2(tensor, wd: float = 0.001):  # noqa: N802 - tflearn's name
    """Half the sum of squares, times `wd` (TensorFlow's `l2_loss` convention)."""
    return wd * 0.5 * jnp.sum(jnp.square(tensor))


def L1(tensor, wd: float = 0.001):  # noqa: N802 - tflearn's name
    """Sum of absolute values, times `wd`."""
    return wd * jnp.sum(jnp.abs(tensor))


@configurable
@dataclasses.dataclass(frozen=True)
class L1L2:
    """`l1 * sum(|W|) + l2 * sum(W**2) / 2`: the `L1` and `L2` penalties together.

    Pass it as a layer's `regularizer`: `fully_connected(net, 64, regularizer=L1L2(l1=1e-4,
    l2=1e-3))`. A factor left None is the layer's `weight_decay`, so `regularizer='L1L2',
    weight_decay=wd` uses `wd` for both. `L1L2(l1=0, l2=wd)` equals `'L2'` with
    `weight_decay=wd` (the half is TensorFlow's `l2_loss` convention, as in `L2`).

    Args:
        l1: Factor of the sum of absolute values (>= 0), or None. Defaults to `None`.
        l2: Factor of half the sum of squares (>= 0), or None. Defaults to `None`.
    """

    l1: float | None = None
    l2: float | None = None

    def __post_init__(self):
        for name in ("l1", "l2"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"L1L2: {name} must be a number or None. "
                                f"Received: {name}={value!r}.")
            if not (0 <= value < math.inf):
                raise ValueError(f"L1L2: {name} must be a finite number >= 0. "
                                 f"Received: {name}={value!r}.")
            object.__setattr__(self, name, float(value))

    def __call__(self, tensor, wd: float = 0.001):
        """The penalty of `tensor`; `wd` stands in for a factor left None."""
        l1 = wd if self.l1 is None else self.l1
        l2 = wd if self.l2 is None else self.l2
        return L1(tensor, l1) + L2(tensor, l2)


_REGULARIZERS: dict[str, Callable] = {"l2": L2, "l1": L1, "l1l2": L1L2()}


def get(identifier: str | Callable) -> Callable:
    """Returns the penalty `fn(tensor, wd) -> scalar` for `'L1'`/`'L2'`/`'L1L2'` or a callable
    (such as `L1L2(l1=..., l2=...)`).

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    return lookup("regularizer", identifier, _REGULARIZERS)
