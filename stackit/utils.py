"""Small helpers from tflearn's `utils` that model scripts use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["repeat", "get_incoming_shape"]


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
