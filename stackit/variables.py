"""tflearn's variable helpers: parameter handles by layer name or scope, and their values."""

from __future__ import annotations

import numpy as np

from stackit.layers.base import ParamRef
from stackit.layers.naming import (
    layer_names,
    layers_in_scope,
    param_names,
    registered,
    variable_scope,
)
from stackit.session import Session, get_default_session

__all__ = ["get_layer_variables_by_name", "get_layer_variables_by_scope", "get_all_variables",
           "get_all_trainable_variable", "get_value", "set_value", "variable_scope"]

_ORDER = {"W": 0, "b": 1}


def get_layer_variables_by_name(name: str) -> list[ParamRef]:
    """Handles on a layer's parameters (`W` first, then `b`, then the rest), by layer name.

    Raises:
        ValueError: If no layer output with that name exists.
    """
    names = param_names(name)
    if names is None:
        raise ValueError(f"No layer named {name!r} in the current graph. Layer names look like "
                         f"'FullyConnected', 'Conv2D_1' (or the `name=` you gave).")
    return [ParamRef(name, p) for p in sorted(names, key=lambda p: (_ORDER.get(p, 2), p))]


def get_layer_variables_by_scope(scope_name: str) -> list[ParamRef]:
    """Handles on the parameters of every layer built inside `variable_scope(scope_name)` (or
    named `scope_name/...`), e.g. to train only the generator of a GAN:
    `regression(..., trainable_vars=get_layer_variables_by_scope('Generator'))`.

    Raises:
        ValueError: If no layer with parameters is in that scope.
    """
    refs = [ref for name in layers_in_scope(scope_name)
            for ref in get_layer_variables_by_name(name)]
    if not refs:
        raise ValueError(f"No layer with parameters in scope {scope_name!r}. Build layers "
                         f"inside `with stackit.variable_scope({scope_name!r}):` first.")
    return refs


def get_all_variables() -> list[ParamRef]:
    """Handles on every parameter of every layer built in the current graph, layer by layer in
    creation order (tflearn's `get_all_variables`; stackit has no other variables)."""
    return [ref for name in layer_names() if param_names(name)
            for ref in get_layer_variables_by_name(name)]


def get_all_trainable_variable() -> list[ParamRef]:
    """As `get_all_variables`, without the layers built with `trainable=False` (tflearn's
    `get_all_trainable_variable`). A model's `freeze` does not change the graph's layers, so
    it does not change this list."""
    return [ref for ref in get_all_variables()
            if getattr(registered(ref.layer), "trainable", True)]


def _session(session: Session | None) -> Session:
    session = session if session is not None else get_default_session()
    if session is None:
        raise ValueError("No session: build a model first (its values live in model.session), "
                         "or pass session=model.session.")
    return session


def get_value(var: ParamRef, session: Session | None = None) -> np.ndarray:
    """A parameter's value, e.g. `get_value(dense.W)` inside `with model.session.as_default():`.

    Args:
        var: A parameter handle (`dense.W`, or from `get_layer_variables_by_name`).
        session: The model's `session`. Defaults to the default session (the newest model's
            when none was made default).
    """
    return _session(session).value(ParamRef.of(var))


def set_value(var: ParamRef, value, session: Session | None = None) -> None:
    """Sets a parameter's value (same shape); the models sharing the session see it."""
    _session(session).assign(ParamRef.of(var), value)
