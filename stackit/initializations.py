"""Weight initializers by tflearn's names.

An initializer is a function `(key, shape, dtype) -> array`. `get('truncated_normal')` returns
tflearn's default; callables (e.g. `jax.nn.initializers.he_normal()`) pass through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stackit._registry import lookup

__all__ = [
    "get", "zeros", "ones", "uniform", "uniform_scaling", "normal", "truncated_normal", "xavier",
    "variance_scaling",
]

Initializer = Callable[[jax.Array, Sequence[int], jnp.dtype], jax.Array]


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a dense `(in, out)` or conv `(*kernel, in, out)` weight."""
    if len(shape) < 2:
        size = int(shape[0]) if shape else 1
        return size, size
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# Draws with a concrete key are made on the host with numpy, seeded from the key: no XLA
# compilation at all (a threefry draw costs 0.2-6 s of compiling per shape on XLA:CPU, which
# made building a model take seconds). Under tracing (shape inference with `jax.eval_shape`,
# or a user's `jax.jit`), the same distributions are drawn with `jax.random`.
def _host_rng(key) -> np.random.Generator | None:
    if isinstance(key, jax.core.Tracer):
        return None
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.random.default_rng(np.asarray(data, np.uint32).ravel().tolist())


def _uniform(key, shape, dtype, minval, maxval):
    rng = _host_rng(key)
    if rng is None:
        flat = jax.random.uniform(key, (math.prod(shape),), dtype, minval, maxval)
        return flat.reshape(shape)
    unit = rng.random(tuple(shape), dtype=np.float32)
    return jnp.asarray(minval + (maxval - minval) * unit, dtype)


def _normal(key, shape, dtype):
    rng = _host_rng(key)
    if rng is None:
        return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)
    return jnp.asarray(rng.standard_normal(tuple(shape), dtype=np.float32), dtype)


def _truncated_normal(key, shape, dtype):
    """Standard normal truncated to [-2, 2] (values outside are drawn again)."""
    rng = _host_rng(key)
    if rng is None:
        flat = jax.random.truncated_normal(key, -2.0, 2.0, (math.prod(shape),), dtype)
        return flat.reshape(shape)
    values = rng.standard_normal(tuple(shape), dtype=np.float32)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
        outside = np.abs(values) > 2.0
    return jnp.asarray(values, dtype)


def zeros(key=None, shape=None, dtype=jnp.float32):
    """All zeros. Called without a shape (tflearn's `zeros()`), returns this initializer."""
    del key
    return zeros if shape is None else jnp.zeros(shape, dtype)


def ones(key=None, shape=None, dtype=jnp.float32):
    """All ones. Called without a shape (as `zeros()`), returns this initializer."""
    del key
    return ones if shape is None else jnp.ones(shape, dtype)


def uniform(minval: float = 0.0, maxval: float = 1.0) -> Initializer:
    """Uniform in `[minval, maxval)`, tflearn's `'uniform'` with its defaults (0, 1)."""

    def init(key, shape, dtype=jnp.float32):
        return _uniform(key, shape, dtype, minval, maxval)

    return init


def uniform_scaling(factor: float = 1.0) -> Initializer:
    """Uniform in `±factor * sqrt(3 / fan)`, fan = product of all but the last dimension.

    This keeps the output variance of a linear layer equal to its input variance; it is
    tflearn's default for convolutions.
    """

    def init(key, shape, dtype=jnp.float32):
        fan = math.prod(shape[:-1]) if len(shape) > 1 else 1
        limit = factor * math.sqrt(3.0 / fan)
        return _uniform(key, shape, dtype, -limit, limit)

    return init


def normal(mean: float = 0.0, stddev: float = 0.02) -> Initializer:
    """Normal with tflearn's defaults (mean 0, stddev 0.02)."""

    def init(key, shape, dtype=jnp.float32):
        return mean + stddev * _normal(key, shape, dtype)

    return init


def truncated_normal(mean: float = 0.0, stddev: float = 0.02) -> Initializer:
    """Normal truncated at two standard deviations; tflearn's default for dense weights."""

    def init(key, shape, dtype=jnp.float32):
        return mean + stddev * _truncated_normal(key, shape, dtype)

    return init


def variance_scaling(factor: float = 2.0, mode: str = "FAN_IN",
                     uniform: bool = False) -> Initializer:
    """Scales by fan: `stddev = sqrt(factor / n)` with n from `mode` (FAN_IN, FAN_OUT, FAN_AVG).

    The defaults (2.0, FAN_IN, normal) are He initialization.
    """
    modes = ("FAN_IN", "FAN_OUT", "FAN_AVG")
    if mode.upper() not in modes:
        raise ValueError(f"variance_scaling: mode must be one of {modes}. "
                         f"Received: mode={mode!r}.")

    def init(key, shape, dtype=jnp.float32):
        fan_in, fan_out = _fans(shape)
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2}[mode.upper()]
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return _uniform(key, shape, dtype, -limit, limit)
        stddev = math.sqrt(1.3 * factor / n)  # 1.3 undoes the truncation's shrinkage of the std
        return stddev * _truncated_normal(key, shape, dtype)

    return init


def xavier(uniform: bool = True) -> Initializer:
    """Glorot/Xavier: variance `2 / (fan_in + fan_out)`, uniform by default."""
    return variance_scaling(1.0, "FAN_AVG", uniform)


_INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "uniform": uniform(),
    "uniform_scaling": uniform_scaling(),
    "normal": normal(),
    "truncated_normal": truncated_normal(),
    "xavier": xavier(),
    "variance_scaling": variance_scaling(),
}


def get(identifier: str | Initializer) -> Initializer:
    """Returns the initializer for a tflearn name (e.g. `'xavier'`) or passes a callable through.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    return lookup("initializer", identifier, _INITIALIZERS)
