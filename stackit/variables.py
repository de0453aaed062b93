"""tflearn's variable helpers, returning parameter handles that `model.get_weights` accepts."""

from __future__ import annotations

from stackit.layers.base import ParamRef, param_names

__all__ = ["get_layer_variables_by_name"]


def get_layer_variables_by_name(name: str) -> list[ParamRef]:
    """Handles on a layer's parameters (`W` first, then `b`, then the rest), by layer name.

    Raises:
        ValueError: If no layer output with that name exists.
    """
    names = param_names(name)
    if names is None:
        raise ValueError(f"No layer named {name!r} in the current graph. Layer names look like "
                         f"'FullyConnected', 'Conv2D_1' (or the `name=` you gave).")
    order = {"W": 0, "b": 1}
    return [ParamRef(name, p) for p in sorted(names, key=lambda p: (order.get(p, 2), p))]
