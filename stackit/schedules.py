"""Learning-rate schedules: named, savable descriptions of optax's schedules.

A schedule maps the optimizer's step count (updates applied, from 0) to a learning rate. Each
class here is a frozen dataclass whose call is the optax schedule it names, so it can be passed
wherever a learning rate is taken and still round-trips through a saved model's JSON config:

    stackit.Adam(learning_rate=stackit.schedules.cosine(1e-3, decay_steps=10_000))
    regression(net, optimizer='momentum', learning_rate=schedules.get('step', 0.1, 1000))

Any callable of the step works as well (an optax schedule, a `lambda step: ...` written with
`jnp`), but only the classes here can be saved in a model's config.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from stackit._registry import configurable

__all__ = ["Schedule", "StepDecay", "ExponentialDecay", "CosineDecay", "WarmupCosineDecay",
           "OneCycle", "PiecewiseConstant", "step", "exponential", "cosine", "warmup_cosine",
           "one_cycle", "piecewise", "get", "check"]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Base class: `schedule(step)` is the learning rate after `step` updates.

    Subclasses implement `as_optax()`, the optax schedule they describe.
    """

    def as_optax(self) -> optax.Schedule:
        """The optax schedule this describes."""
        raise NotImplementedError

    def __call__(self, count):
        return self.as_optax()(count)

    def _check(self, **limits: str) -> None:
        """Refuses fields outside their interval (`'[0, inf)'`, `'(0, 1]'`, `'int>0'`)."""
        for field, rule in limits.items():
            value = getattr(self, field)
            if rule == "int>0":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{type(self).__name__}: {field} must be a positive int. "
                                     f"Received: {field}={value!r}.")
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{type(self).__name__}: {field} must be a number in {rule}. "
                                f"Received: {field}={value!r}.")
            low, high = (float(end) for end in rule[1:-1].split(","))
            value = float(value)
            ok = (low <= value if rule[0] == "[" else low < value) and \
                (value <= high if rule[-1] == "]" else value < high)
            if not ok:
                raise ValueError(f"{type(self).__name__}: {field} must be in {rule}. "
                                 f"Received: {field}={value!r}.")


@configurable
@dataclasses.dataclass(frozen=True)
class StepDecay(Schedule):
    """`learning_rate * factor ** (step // step_size)`: drops by `factor` every `step_size`
    steps (`optax.exponential_decay(..., staircase=True)`).

    Args:
        learning_rate: The rate before the first drop.
        step_size: Steps between drops.
        factor: Multiplier at each drop. Defaults to `0.1`.
    """

    learning_rate: float
    step_size: int
    factor: float = 0.1

    def __post_init__(self):
        self._check(learning_rate="[0, inf)", step_size="int>0", factor="[0, inf)")

    def as_optax(self):
        return optax.exponential_decay(self.learning_rate, self.step_size, self.factor,
                                       staircase=True)


@configurable
@dataclasses.dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """`learning_rate * decay_rate ** (step / decay_steps)` (`step // decay_steps` with
    `staircase`), as `optax.exponential_decay` and TensorFlow's `exponential_decay`.

    Args:
        learning_rate: The rate at step 0.
        decay_steps: Steps over which the rate is multiplied by `decay_rate`.
        decay_rate: The multiplier per `decay_steps`.
        staircase: Decay in discrete steps. Defaults to `False`.
    """

    learning_rate: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self):
        self._check(learning_rate="[0, inf)", decay_steps="int>0", decay_rate="[0, inf)")

    def as_optax(self):
        return optax.exponential_decay(self.learning_rate, self.decay_steps, self.decay_rate,
                                       staircase=self.staircase)


@configurable
@dataclasses.dataclass(frozen=True)
class CosineDecay(Schedule):
    """Half a cosine from `learning_rate` down to `alpha * learning_rate` over `decay_steps`,
    then constant (`optax.cosine_decay_schedule`).

    Args:
        learning_rate: The rate at step 0.
        decay_steps: Length of the decay.
        alpha: The final rate as a fraction of `learning_rate`. Defaults to `0.0`.
    """

    learning_rate: float
    decay_steps: int
    alpha: float = 0.0

    def __post_init__(self):
        self._check(learning_rate="[0, inf)", decay_steps="int>0", alpha="[0, 1]")

    def as_optax(self):
        return optax.cosine_decay_schedule(self.learning_rate, self.decay_steps, self.alpha)


@configurable
@dataclasses.dataclass(frozen=True)
class WarmupCosineDecay(Schedule):
    """A linear warmup from `init_value` to `peak_value` over `warmup_steps`, then a cosine
    decay to `end_value` at step `decay_steps` (`optax.warmup_cosine_decay_schedule`:
    `decay_steps` counts the warmup too).

    Args:
        peak_value: The rate at the end of the warmup.
        warmup_steps: Length of the warmup.
        decay_steps: Total length, warmup included.
        init_value: The rate at step 0. Defaults to `0.0`.
        end_value: The rate from `decay_steps` on. Defaults to `0.0`.
    """

    peak_value: float
    warmup_steps: int
    decay_steps: int
    init_value: float = 0.0
    end_value: float = 0.0

    def __post_init__(self):
        self._check(peak_value="[0, inf)", decay_steps="int>0", init_value="[0, inf)",
                    end_value="[0, inf)")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) \
                or not 0 <= self.warmup_steps < self.decay_steps:
            raise ValueError(f"WarmupCosineDecay: warmup_steps must be an int in [0, "
                             f"decay_steps). Received: warmup_steps={self.warmup_steps!r}, "
                             f"decay_steps={self.decay_steps!r}.")

    def as_optax(self):
        return optax.warmup_cosine_decay_schedule(self.init_value, self.peak_value,
                                                  self.warmup_steps, self.decay_steps,
                                                  self.end_value)


@configurable
@dataclasses.dataclass(frozen=True)
class OneCycle(Schedule):
    """The one-cycle policy (Smith, 2018) with cosine ramps (`optax.cosine_onecycle_schedule`):
    from `max_learning_rate / div_factor` up to `max_learning_rate` over the first `pct_start`
    of `total_steps`, then down to `max_learning_rate / (div_factor * final_div_factor)`.

    Args:
        max_learning_rate: The peak rate.
        total_steps: Length of the cycle (e.g. `n_epoch * steps_per_epoch`).
        pct_start: Fraction of the cycle spent rising. Defaults to `0.3`.
        div_factor: Initial rate is `max_learning_rate / div_factor`. Defaults to `25.0`.
        final_div_factor: Final rate is the initial one / this. Defaults to `1e4`.
    """

    max_learning_rate: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self):
        self._check(max_learning_rate="[0, inf)", total_steps="int>0", pct_start="(0, 1)",
                    div_factor="(0, inf)", final_div_factor="(0, inf)")

    def as_optax(self):
        return optax.cosine_onecycle_schedule(self.total_steps, self.max_learning_rate,
                                              self.pct_start, self.div_factor,
                                              self.final_div_factor)


@configurable
@dataclasses.dataclass(frozen=True)
class PiecewiseConstant(Schedule):
    """`values[0]` before step `boundaries[0]`, `values[i]` from step `boundaries[i - 1]` on
    (the boundary step already takes the new value, as `optax.piecewise_constant_schedule`).

    Args:
        boundaries: Increasing step counts where the rate changes.
        values: The rates, one more than `boundaries`.
    """

    boundaries: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self):
        object.__setattr__(self, "boundaries", tuple(self.boundaries))
        object.__setattr__(self, "values", tuple(self.values))
        b, v = self.boundaries, self.values
        if not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in b) or \
                any(x >= y for x, y in zip(b, b[1:], strict=False)):
            raise ValueError(f"PiecewiseConstant: boundaries must be increasing positive ints. "
                             f"Received: boundaries={b!r}.")
        if len(v) != len(b) + 1 or not all(
                isinstance(x, numbers.Real) and not isinstance(x, bool) and x >= 0 for x in v):
            raise ValueError(f"PiecewiseConstant: values must be {len(b) + 1} numbers >= 0 (one "
                             f"more than boundaries). Received: values={v!r}.")

    def as_optax(self):
        return optax.join_schedules([optax.constant_schedule(x) for x in self.values],
                                    list(self.boundaries))


# -- lowercase constructors, the names `get` knows ----------------------------------------------

def step(learning_rate: float, step_size: int, factor: float = 0.1) -> StepDecay:
    """A `StepDecay`: the rate times `factor` every `step_size` steps."""
    return StepDecay(learning_rate, step_size, factor)


def exponential(learning_rate: float, decay_steps: int, decay_rate: float,
                staircase: bool = False) -> ExponentialDecay:
    """An `ExponentialDecay`: `learning_rate * decay_rate ** (step / decay_steps)`."""
    return ExponentialDecay(learning_rate, decay_steps, decay_rate, staircase)


def cosine(learning_rate: float, decay_steps: int, alpha: float = 0.0) -> CosineDecay:
    """A `CosineDecay` from `learning_rate` to `alpha * learning_rate` over `decay_steps`."""
    return CosineDecay(learning_rate, decay_steps, alpha)


def warmup_cosine(peak_value: float, warmup_steps: int, decay_steps: int,
                  init_value: float = 0.0, end_value: float = 0.0) -> WarmupCosineDecay:
    """A `WarmupCosineDecay`: linear warmup to `peak_value`, then cosine to `end_value`."""
    return WarmupCosineDecay(peak_value, warmup_steps, decay_steps, init_value, end_value)


def one_cycle(max_learning_rate: float, total_steps: int, pct_start: float = 0.3,
              div_factor: float = 25.0, final_div_factor: float = 1e4) -> OneCycle:
    """A `OneCycle` schedule peaking at `max_learning_rate`."""
    return OneCycle(max_learning_rate, total_steps, pct_start, div_factor, final_div_factor)


def piecewise(boundaries, values) -> PiecewiseConstant:
    """A `PiecewiseConstant` schedule: `values[i]` from step `boundaries[i - 1]` on."""
    return PiecewiseConstant(tuple(boundaries), tuple(values))


_SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "step": step, "exponential": exponential, "cosine": cosine, "warmup_cosine": warmup_cosine,
    "one_cycle": one_cycle, "piecewise": piecewise}


def get(identifier: str | Callable, *args: Any, **kwargs: Any) -> Callable:
    """A schedule: by name with its arguments (`get('cosine', 0.1, decay_steps=1000)`), or a
    schedule / callable of the step, returned as it is.

    Raises:
        ValueError: If the name is unknown (the message lists the names).
        TypeError: If `identifier` is neither, or arguments come with a callable.
    """
    if isinstance(identifier, str):
        make = _SCHEDULES.get(identifier.lower())
        if make is None:
            raise ValueError(f"Unknown schedule {identifier!r}. Expected one of: "
                             f"{', '.join(sorted(_SCHEDULES))}, or a callable of the step.")
        return make(*args, **kwargs)
    if callable(identifier):
        if args or kwargs:
            raise TypeError("schedules.get takes arguments only with a schedule name; a "
                            f"callable is used as it is. Received: {identifier!r} with "
                            f"arguments.")
        return identifier
    raise TypeError(f"Expected a schedule name ({', '.join(sorted(_SCHEDULES))}) or a callable "
                    f"of the step. Received: schedule={identifier!r}.")


def check(schedule: Callable, owner: str) -> None:
    """Refuses a callable that is not a function of the step count returning a scalar: it is
    traced once with an int32 scalar (nothing is computed or compiled).

    Raises:
        TypeError: Naming `owner`, with what the call returned or raised.
    """
    try:
        out = jax.eval_shape(schedule, jax.ShapeDtypeStruct((), jnp.int32))
    except Exception as err:  # noqa: BLE001 - any failure means "not a schedule"; say why
        raise TypeError(f"{owner}: a learning-rate schedule must be a function of the step "
                        f"count (an int32 JAX scalar, so written with jnp) returning a scalar, "
                        f"e.g. stackit.schedules.cosine(0.1, 1000). Calling it with a traced "
                        f"step failed: {type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''}") from None
    dtype = getattr(out, "dtype", None)
    if getattr(out, "shape", None) != () or dtype is None or not (
            jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        raise TypeError(f"{owner}: a learning-rate schedule must return a real scalar. "
                        f"Received: a schedule returning {out!r}.")
