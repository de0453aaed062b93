"""Keras's `Sequential`: a list of layers, chained."""

from __future__ import annotations

from collections.abc import Sequence

from stackit.layers.base import Layer, Tensor
from stackit.model import DNN

__all__ = ["Sequential"]


class Sequential(DNN):
    """Keras-style model: `Sequential([Conv2D(32, 3, activation='relu'), ..., Dense(10)])`.

    The layers are the same objects the tflearn functions build. End the list with a
    `Regression(...)` or call `compile(...)`. Without an `InputData`/`Input` first, the input
    shape is taken from the first `fit`/`predict` (or `build(input_shape)`).
    """

    def __init__(self, layers: Sequence[Layer] | None = None, **kwargs):
        if layers is None:
            layers = []
        if isinstance(layers, Tensor) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"Sequential expects a list of layers. Received: "
                            f"{type(layers).__name__}.")
        self._added = list(layers)
        if layers:
            super().__init__(list(layers), **kwargs)
        else:
            self._kwargs = kwargs

    def add(self, layer: Layer) -> None:
        """Appends a layer (Keras's `Sequential.add`), before the model is built."""
        layers = [*self._added, layer]
        if self.__dict__.get("_key") is not None:
            raise ValueError("add() must come before the model is built (before fit/predict).")
        kwargs = self.__dict__.get("_kwargs", {})
        self.__init__(layers, **kwargs)  # type: ignore[misc]
