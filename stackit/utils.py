"""Small helpers from tflearn's `utils` that model scripts use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackit.layers import naming

__all__ = ["repeat", "get_incoming_shape", "get_layer_by_name"]


def repeat(inputs: Any, repetitions: int, layer: Callable, *args: Any, **kwargs: Any) -> Any:
    """Applies `layer(x, *args, **kwargs)` `repetitions` times, feeding each output to the next
    call: `repeat(net, 10, block35, scale=0.17)`.

    Raises:
        ValueError: If `repetitions` is not an int >= 0.
    """
    if isinstance(repetitions, bool) or not isinstance(repetitions, int) or repetitions < 0:
        raise ValueError(f"repeat: repetitions must be an int >= 0. "
                         f"Received: repetitions={repetitions!r}.")
    outputs = inputs
    for _ in range(repetitions):
        outputs = layer(outputs, *args, **kwargs)
    return outputs


def get_incoming_shape(incoming: Any) -> list:
    """The shape of a tensor or array as a list, batch axis first (`None` when unknown)."""
    shape = getattr(incoming, "shape", None)
    if shape is None:
        raise TypeError(f"get_incoming_shape: expected a tensor or an array. "
                        f"Received: {type(incoming).__name__}.")
    return list(shape)


def get_layer_by_name(name_or_scope: str) -> Any:
    """The output tensor of the layer called `name_or_scope` (its `name=` or `scope=`, or an
    automatic name such as `'Conv2D_1'`), as tflearn's `get_layer_by_name`: a layer applied
    several times (shared with `reuse=True`) gives the list of its outputs, oldest first.

    Example:
        >>> net = fully_connected(net, 64, name='dense1')
        >>> get_layer_by_name('dense1') is net
        True

    Raises:
        TypeError: If `name_or_scope` is not a string.
        ValueError: If no layer of the current graph has that name; the message lists some
            that exist.
    """
    if not isinstance(name_or_scope, str):
        raise TypeError(f"get_layer_by_name: expected a layer name (a string). "
                        f"Received: name_or_scope={name_or_scope!r}.")
    found = naming.outputs_of(name_or_scope)
    if not found:
        names = naming.layer_names()
        shown = ", ".join(repr(n) for n in names[-8:]) or "none yet"
        raise ValueError(f"get_layer_by_name: no layer named {name_or_scope!r} in the current "
                         f"graph. Layers built last: {shown}.")
    return found[0] if len(found) == 1 else found
