"""`model.session`: the store of parameter values that models over one graph share.

tflearn's `DNN(encoder, session=model.session)` builds a second model over part of a trained
graph that uses the trained weights. In stackit the session is this store: parameters and
layer state keyed by layer name. Every model built with `session=s` reads and writes its
layers' values in `s`, so training one is seen by the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax.numpy as jnp
import numpy as np

from stackit.layers.base import ParamRef

__all__ = ["Session", "get_default_session"]

_DEFAULT: list[Session] = []
_LATEST: list[Session] = []


class Session:
    """Parameter values keyed by layer name, shared by the models built on it.

    Attributes:
        params: `{layer name: {param name: array}}`.
        layer_state: `{layer name: {name: array}}` (e.g. batch-norm moving averages).
    """

    def __init__(self) -> None:
        self.params: dict = {}
        self.layer_state: dict = {}
        _LATEST[:] = [self]

    def holds(self, layer: str) -> bool:
        """Whether the session has values for the layer called `layer`."""
        return layer in self.params or layer in self.layer_state

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        """Makes this the session `stackit.variables.get_value`/`set_value` use (tflearn's
        `with model.session.as_default():`)."""
        _DEFAULT.append(self)
        try:
            yield self
        finally:
            _DEFAULT.pop()

    def value(self, ref: ParamRef) -> np.ndarray:
        """The current value of the parameter `ref`.

        Raises:
            ValueError: If the session has no such parameter.
        """
        layer = self.params.get(ref.layer, {})
        if ref.param not in layer:
            known = [f"{n}/{p}" for n, ps in self.params.items() for p in ps]
            raise ValueError(f"This session has no parameter {ref.layer}/{ref.param}. Expected "
                             f"one of: {', '.join(known) or 'none (no model built on it)'}.")
        return np.asarray(layer[ref.param])

    def assign(self, ref: ParamRef, value) -> None:
        """Replaces the parameter `ref` by `value` (same shape).

        Raises:
            ValueError: If the parameter does not exist, the shape differs, or `value` holds
                NaN or infinity.
        """
        old = self.value(ref)
        new = np.asarray(value, dtype=old.dtype)
        if new.shape != old.shape:
            raise ValueError(f"{ref.layer}/{ref.param} has shape {old.shape}. "
                             f"Received: shape {new.shape}.")
        bad = ~np.isfinite(new)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{ref.layer}/{ref.param} must hold finite numbers. Received: "
                             f"{new[where]} at index {where} ({int(bad.sum())} non-finite "
                             f"value(s) in all).")
        self.params[ref.layer] = {**self.params[ref.layer], ref.param: jnp.asarray(new)}


def get_default_session() -> Session | None:
    """The session of the innermost `with session.as_default():`, else the newest one."""
    if _DEFAULT:
        return _DEFAULT[-1]
    return _LATEST[0] if _LATEST else None
