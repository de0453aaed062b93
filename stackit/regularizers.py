"""Weight penalties by tflearn's names: `'L2'` is `wd * sum(W**2) / 2`; `'L1'`, `wd * sum(|W|)`."""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from stackit._registry import lookup

__all__ = ["get", "L1", "L2"]


def L2(tensor, wd: float = 0.001):  # noqa: N802 - tflearn's name
    """Half the sum of squares, times `wd` (TensorFlow's `l2_loss` convention)."""
    return wd * 0.5 * jnp.sum(jnp.square(tensor))


def L1(tensor, wd: float = 0.001):  # noqa: N802 - tflearn's name
    """Sum of absolute values, times `wd`."""
    return wd * jnp.sum(jnp.abs(tensor))


_REGULARIZERS = {"l2": L2, "l1": L1}


def get(identifier: str | Callable) -> Callable:
    """Returns the penalty `fn(tensor, wd) -> scalar` for `'L1'`/`'L2'` or a callable.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    return lookup("regularizer", identifier, _REGULARIZERS)
