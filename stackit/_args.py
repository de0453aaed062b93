"""Argument checks shared by the model's methods."""

from __future__ import annotations

import numpy as np

from stackit.callbacks.base import Callback

__all__ = ["callback_list", "alias", "check_positive_int"]


def callback_list(callbacks) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError("callbacks must be stackit.callbacks.Callback instances. "
                            f"Received: {callback!r}.")
    return list(callbacks)


def alias(name: str, value, alias: str, alias_value, default):
    if value is not None and alias_value is not None:
        raise ValueError(f"Pass {name} or {alias}, not both. Received: {name}={value!r}, "
                         f"{alias}={alias_value!r}.")
    if value is not None:
        return value
    return alias_value if alias_value is not None else default


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}.")
