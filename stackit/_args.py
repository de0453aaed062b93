"""Argument checks shared by the model's methods."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from stackit.callbacks.base import Callback

__all__ = ["callback_list", "alias", "check_positive_int", "check_non_negative", "check_seed",
           "check_fit_flags", "cap_batch_sizes", "QUIET_BATCH_SIZE"]

#: `fit` lowers a batch size above the sample count to that count (the rest would be padding);
#: it warns when the batch size asked for was also above this.
QUIET_BATCH_SIZE = 1024


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


def check_non_negative(name: str, value, hint: str = "") -> None:
    """Refuses a value that is not a real number >= 0 (bools, strings, NaN included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number{hint}. Received: {name}={value!r}.")
    if not float(value) >= 0:
        raise ValueError(f"{name} must be >= 0{hint}. Received: {name}={value!r}.")


def check_seed(seed) -> None:
    """A seed is None or an int in [0, 2**63) (what numpy and JAX both accept)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None. Received: seed={seed!r}.")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63). Received: seed={seed!r}.")


def check_fit_flags(shuffle, verbose) -> None:
    """`fit`'s `shuffle` is a bool or None, `verbose` 0, 1 or 2."""
    if shuffle is not None and not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True, False or None (the estimator's "
                        f"shuffle_batches). Received: shuffle={shuffle!r}.")
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (plain lines). "
                         f"Received: verbose={verbose!r}.")


def cap_batch_sizes(n: int, batch_size: int, validation_batch_size: int) -> tuple[int, int]:
    """Both batch sizes lowered to the `n` samples: a larger batch is only padding, and a huge
    one would not fit in memory. Warns when a size above `QUIET_BATCH_SIZE` is lowered."""
    sizes = {"batch_size": batch_size, "validation_batch_size": validation_batch_size}
    lowered = [f"{name}={size}" for name, size in sizes.items()
               if size > n and size > QUIET_BATCH_SIZE]
    if lowered:
        warnings.warn(f"fit: lowering {' and '.join(lowered)} to the {n} samples of X (a "
                      f"larger batch is only padding).", stacklevel=3)
    return min(batch_size, n), min(validation_batch_size, n)
