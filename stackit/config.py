"""Process-wide settings: the default seed, as tflearn's `init_graph`."""

from __future__ import annotations

__all__ = ["init_graph", "default_seed"]

_SEED: int | None = None


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
