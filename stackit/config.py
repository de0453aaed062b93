"""Process-wide settings: the default seed, as tflearn's `init_graph`, and a cap on the epochs
of every `fit` (for smoke runs: `python -m stackit --epochs 1 script.py`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["init_graph", "default_seed", "epoch_cap", "capped_epochs", "MAX_EPOCHS_ENV"]

_SEED: int | None = None
_EPOCH_CAPS: list[int] = []  # innermost `epoch_cap` last
MAX_EPOCHS_ENV = "STACKIT_MAX_EPOCHS"


def init_graph(seed: int | None = None, log_device: bool = False, num_cores: int = 0,
               gpu_memory_fraction: float = 0, soft_placement: bool = True) -> None:
    """Sets the default seed for models built afterwards (tflearn's `init_graph`).

    Args:
        seed: Seed for parameter initialization, dropout and shuffling; None draws a fresh one
            per model. Defaults to `None`.
        log_device: Accepted for tflearn compatibility; ignored.
        num_cores: Accepted for tflearn compatibility; ignored (XLA picks the threads).
        gpu_memory_fraction: Accepted for tflearn compatibility; ignored (set
            `XLA_PYTHON_CLIENT_MEM_FRACTION` instead).
        soft_placement: Accepted for tflearn compatibility; ignored.

    Raises:
        TypeError: If `seed` is not an int or None.
        ValueError: If `seed` is outside [0, 2**63).
    """
    del log_device, num_cores, gpu_memory_fraction, soft_placement
    global _SEED
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"init_graph: seed must be an int or None. Received: seed={seed!r}.")
    if seed is not None and not 0 <= seed < 2**63:
        raise ValueError(f"init_graph: seed must be in [0, 2**63). Received: seed={seed!r}.")
    _SEED = seed


def default_seed() -> int | None:
    """The seed set by `init_graph`, or None."""
    return _SEED


@contextlib.contextmanager
def epoch_cap(n: int) -> Iterator[None]:
    """Caps `n_epoch` (or `epochs`) of every `fit` called inside the block at `n`; a `fit` asking
    for fewer epochs runs as asked. `python -m stackit --epochs N` runs its script in one.

    Raises:
        ValueError: If `n` is not a positive int.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"epoch_cap: n must be a positive int. Received: n={n!r}.")
    _EPOCH_CAPS.append(n)
    try:
        yield
    finally:
        _EPOCH_CAPS.pop()


def capped_epochs(n_epoch: int) -> int:
    """`n_epoch`, lowered to the innermost `epoch_cap`, else to the `STACKIT_MAX_EPOCHS`
    environment variable when it is set.

    Raises:
        ValueError: If `STACKIT_MAX_EPOCHS` is set to anything but a positive int.
    """
    if _EPOCH_CAPS:
        return min(n_epoch, _EPOCH_CAPS[-1])
    env = os.environ.get(MAX_EPOCHS_ENV, "").strip()
    if not env:
        return n_epoch
    if not env.isdigit() or int(env) < 1:
        raise ValueError(f"{MAX_EPOCHS_ENV} must be a positive int. Received: {env!r}.")
    return min(n_epoch, int(env))
