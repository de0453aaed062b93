"""The learning rate as optimizer state, so it can change between dispatches without a
recompilation and without touching the optimizer's moments.

Every stackit optimizer wraps its optax transformation with `inject_learning_rate` (the same
idea as `optax.inject_hyperparams`, for the learning rate alone). Its state holds the rate of
the next update as a float32 scalar:

- a constant rate (`LearningRateState`): `set_learning_rate(opt_state, lr)` writes it;
- a schedule (`ScheduledLearningRateState`): update number `count` uses
  `scale * schedule(count)`, `scale` starting at 1. Setting the rate to `lr` at step `count`
  sets `scale` so that this step's rate is `lr`: the change *multiplies the rest of the
  schedule* by `lr / (the rate it replaced)`. A schedule at 0 cannot be scaled, so setting a
  non-zero rate then is refused.

States of `optax.inject_hyperparams(...)(learning_rate=<number>, ...)` are read and written
too, so an optax transformation built that way works with the learning-rate callbacks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["LearningRateState", "ScheduledLearningRateState", "inject_learning_rate",
           "get_learning_rate", "set_learning_rate", "read", "checked"]


class LearningRateState(NamedTuple):
    """A constant learning rate and the state of the optimizer it drives."""

    learning_rate: jax.Array  # float32 scalar: the rate of every update until changed
    inner_state: Any


class ScheduledLearningRateState(NamedTuple):
    """A scheduled learning rate: update number `count` uses `scale * schedule(count)`."""

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    learning_rate: jax.Array  # the rate of the next update
    scale: jax.Array  # multiplies the schedule; 1.0 until the rate is set by hand
    inner_state: Any


_INJECTED = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
_STATES = (LearningRateState, ScheduledLearningRateState, *_INJECTED)


def inject_learning_rate(factory: Callable[[Any], optax.GradientTransformation],
                         learning_rate: float | Callable) -> optax.GradientTransformation:
    """`factory(lr)` with `lr` read from the optimizer state at each update.

    Args:
        factory: Builds the optimizer for a learning rate (a float32 scalar, traced inside
            `update`); the structure of its state must not depend on the rate.
        learning_rate: A number, or a schedule (a function of the update count).

    Returns:
        An optax transformation whose state is a `LearningRateState` or, for a schedule, a
        `ScheduledLearningRateState`.
    """
    if not callable(learning_rate):
        def init(params):
            lr = jnp.asarray(learning_rate, jnp.float32)
            return LearningRateState(lr, factory(lr).init(params))

        def update(updates, state, params=None):
            updates, inner = factory(state.learning_rate).update(updates, state.inner_state,
                                                                 params)
            return updates, LearningRateState(state.learning_rate, inner)

        return optax.GradientTransformation(init, update)

    schedule = learning_rate

    def rate(scale, count):
        return (scale * jnp.asarray(schedule(count), jnp.float32)).astype(jnp.float32)

    def init_scheduled(params):
        count, scale = jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32)
        lr = rate(scale, count)
        return ScheduledLearningRateState(count, lr, scale, factory(lr).init(params))

    def update_scheduled(updates, state, params=None):
        updates, inner = factory(state.learning_rate).update(updates, state.inner_state, params)
        count = optax.safe_increment(state.count)
        return updates, ScheduledLearningRateState(count, rate(state.scale, count), state.scale,
                                                   inner)

    return optax.GradientTransformation(init_scheduled, update_scheduled)


def _holds_rate(node) -> bool:
    return isinstance(node, _STATES) and (
        not isinstance(node, _INJECTED) or "learning_rate" in node.hyperparams)


def _rate_nodes(opt_state) -> list:
    return [node for node in jax.tree.leaves(opt_state, is_leaf=_holds_rate)
            if _holds_rate(node)]


def get_learning_rate(opt_state) -> jax.Array | None:
    """The learning rate of the next update (a device scalar), or None when the state holds
    none (an optax transformation used as given)."""
    nodes = _rate_nodes(opt_state)
    if not nodes:
        return None
    node = nodes[0]
    return node.hyperparams["learning_rate"] if isinstance(node, _INJECTED) \
        else node.learning_rate


def read(opt_state) -> float | None:
    """`get_learning_rate` read to the host (a sync), or None."""
    value = get_learning_rate(opt_state)
    return None if value is None else float(jax.device_get(value))


def checked(lr, owner: str) -> float:
    """`lr` as a float, refusing what is not a finite number >= 0.

    Raises:
        TypeError: If `lr` is not a real number.
        ValueError: If it is negative, NaN or infinite.
    """
    if isinstance(lr, bool) or not (isinstance(lr, numbers.Real)
                                    or np.ndim(lr) == 0 and hasattr(lr, "dtype")):
        raise TypeError(f"{owner}: the learning rate must be a number. Received: lr={lr!r}.")
    value = float(lr)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: the learning rate must be a finite number >= 0. "
                         f"Received: lr={lr!r}.")
    return value


def set_learning_rate(opt_state, value: float, owner: str = "set_learning_rate"):
    """`opt_state` with its learning rate set to `value` (see the module docstring for how a
    schedule takes it). Only the rate's scalars change: the optimizer's moments and counts
    are the same arrays, and the new scalars keep the old ones' dtype and placement.

    Raises:
        ValueError: If the state holds no learning rate, or a schedule is at 0 (it cannot be
            scaled to `value`), or optax's `inject_hyperparams` schedules it.
    """
    if not _rate_nodes(opt_state):
        raise ValueError(f"{owner}: this optimizer holds no learning rate in its state (an "
                         f"optax transformation used as given). Use a stackit optimizer "
                         f"(e.g. stackit.Adam(1e-3)) or build it with "
                         f"optax.inject_hyperparams(optax.adam)(learning_rate=1e-3).")

    def visit(node):
        if not _holds_rate(node):
            return node
        if isinstance(node, LearningRateState):
            return node._replace(learning_rate=_like(node.learning_rate, value))
        if isinstance(node, ScheduledLearningRateState):
            current = float(node.learning_rate)
            if value == current:
                return node
            if current == 0.0:
                raise ValueError(f"{owner}: the schedule's learning rate is 0 at step "
                                 f"{int(node.count)}, so it cannot be scaled to {value}. A set "
                                 f"rate multiplies the rest of the schedule; wait for a step "
                                 f"where it is non-zero, or use a schedule that never is.")
            scale = float(node.scale) * value / current
            return node._replace(learning_rate=_like(node.learning_rate, value),
                                 scale=_like(node.scale, scale))
        if "learning_rate" in getattr(node, "hyperparams_states", {}):
            raise ValueError(f"{owner}: optax.inject_hyperparams schedules this learning rate "
                             f"and would overwrite it at the next step. Pass the schedule to a "
                             f"stackit optimizer instead, e.g. stackit.Adam(learning_rate="
                             f"schedule).")
        hyperparams = dict(node.hyperparams)
        hyperparams["learning_rate"] = _like(hyperparams["learning_rate"], value)
        return node._replace(hyperparams=hyperparams)

    return jax.tree.map(visit, opt_state, is_leaf=_holds_rate)


def _like(old, value: float):
    """`value` as an array like `old`: same dtype, devices and commitment. A compiled step is
    cached by its arguments' placement too, so anything else would compile it again."""
    new = np.asarray(value, dtype=getattr(old, "dtype", np.float32))
    if not isinstance(old, jax.Array):
        return new
    return jax.device_put(new, old.sharding) if old.committed else jax.device_put(new)
