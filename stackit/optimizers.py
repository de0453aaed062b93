"""tflearn's optimizers as thin, named descriptions of optax transformations.

`SGD(learning_rate=0.1, lr_decay=0.96, decay_step=1000)` is a frozen description; `build()`
returns the optax `GradientTransformation`, with learning-rate decay as an optax schedule.
Names (`'adam'`, `'sgd'`, ...) map to these classes; an optax transformation passes through.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from stackit._registry import configurable

__all__ = [
    "get", "Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "RMSProp", "AdaGrad", "AdaDelta",
    "Ftrl", "ftrl",
]


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """Base class. Subclasses hold tflearn's arguments and implement `transformation(lr)`.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        lr_decay: Exponential decay rate applied every `decay_step` steps (0 disables it).
            Defaults to `0.0`.
        decay_step: Steps per decay period. Defaults to `100`.
        staircase: Decay in discrete steps rather than smoothly. Defaults to `False`.
    """

    learning_rate: float = 0.001
    lr_decay: float = 0.0
    decay_step: int = 100
    staircase: bool = False

    def __post_init__(self):
        if not isinstance(self.learning_rate, (int, float)) or self.learning_rate < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative "
                             f"number. Received: learning_rate={self.learning_rate!r}.")
        if self.lr_decay and (self.decay_step < 1 or not 0 < self.lr_decay <= 1):
            raise ValueError(f"{type(self).__name__}: lr_decay must be in (0, 1] and "
                             f"decay_step >= 1. Received: lr_decay={self.lr_decay!r}, "
                             f"decay_step={self.decay_step!r}.")

    def schedule(self) -> optax.Schedule | float:
        """The learning rate, or an exponential-decay schedule when `lr_decay` is set."""
        if not self.lr_decay:
            return self.learning_rate
        return optax.exponential_decay(self.learning_rate, self.decay_step, self.lr_decay,
                                       staircase=self.staircase)

    def transformation(self, learning_rate) -> optax.GradientTransformation:
        raise NotImplementedError

    def build(self) -> optax.GradientTransformation:
        """The optax transformation this optimizer describes."""
        return self.transformation(self.schedule())


def _optimizer(cls):
    return configurable(dataclasses.dataclass(frozen=True)(cls))


@_optimizer
class SGD(Optimizer):
    """Plain stochastic gradient descent."""

    def transformation(self, learning_rate):
        return optax.sgd(learning_rate)


@_optimizer
class Momentum(Optimizer):
    """SGD with momentum (`momentum` defaults to 0.9)."""

    momentum: float = 0.9

    def transformation(self, learning_rate):
        return optax.sgd(learning_rate, momentum=self.momentum)


@_optimizer
class Nesterov(Momentum):
    """SGD with Nesterov momentum (`momentum` defaults to 0.9)."""

    def transformation(self, learning_rate):
        return optax.sgd(learning_rate, momentum=self.momentum, nesterov=True)


@_optimizer
class Adam(Optimizer):
    """Adam (`beta1=0.9`, `beta2=0.999`, `epsilon=1e-8`)."""

    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    def transformation(self, learning_rate):
        return optax.adam(learning_rate, b1=self.beta1, b2=self.beta2, eps=self.epsilon)


@_optimizer
class RMSProp(Optimizer):
    """RMSProp as in TensorFlow 1: squares averaged with `decay`, accumulator starting at 1."""

    decay: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-10

    def transformation(self, learning_rate):
        return optax.rmsprop(learning_rate, decay=self.decay, eps=self.epsilon, initial_scale=1.0,
                             momentum=self.momentum or None)


@_optimizer
class AdaGrad(Optimizer):
    """AdaGrad with `initial_accumulator_value=0.1`."""

    initial_accumulator_value: float = 0.1

    def transformation(self, learning_rate):
        return optax.adagrad(learning_rate,
                             initial_accumulator_value=self.initial_accumulator_value)


@_optimizer
class AdaDelta(Optimizer):
    """AdaDelta (tflearn defaults: `rho=0.1`, `epsilon=1e-8`)."""

    rho: float = 0.1
    epsilon: float = 1e-8

    def transformation(self, learning_rate):
        return optax.adadelta(learning_rate, rho=self.rho, eps=self.epsilon)


class FtrlState(NamedTuple):
    """FTRL-proximal accumulators: squared-gradient sum `n` and linear term `z`."""

    n: Any
    z: Any


def ftrl(learning_rate: float, learning_rate_power: float = -0.5,
         initial_accumulator_value: float = 0.1, l1: float = 0.0,
         l2: float = 0.0) -> optax.GradientTransformation:
    """FTRL-proximal (McMahan et al., 2013) as an optax transformation (optax has none).

    Returns updates `w_new - w`, so it needs `params` in `update`.
    """
    power = -learning_rate_power

    def init(params):
        return FtrlState(jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value),
                                      params),
                         jax.tree.map(jnp.zeros_like, params))

    def update_one(g, n, z, w):
        n_new = n + g * g
        sigma = (n_new ** power - n ** power) / learning_rate
        z_new = z + g - sigma * w
        denom = n_new ** power / learning_rate + 2.0 * l2
        w_new = jnp.where(jnp.abs(z_new) > l1, (jnp.sign(z_new) * l1 - z_new) / denom, 0.0)
        return w_new - w, n_new, z_new

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("ftrl needs the current params in update(updates, state, params).")
        out = jax.tree.map(update_one, updates, state.n, state.z, params)
        pick = lambda i: jax.tree.map(lambda t: t[i], out, is_leaf=lambda t: isinstance(t, tuple))  # noqa: E731
        return pick(0), FtrlState(pick(1), pick(2))

    return optax.GradientTransformation(init, update)


@_optimizer
class Ftrl(Optimizer):
    """Follow-the-regularized-leader, tflearn defaults (`learning_rate=3.0`, power -0.5)."""

    learning_rate: float = 3.0
    learning_rate_power: float = -0.5
    initial_accumulator_value: float = 0.1
    l1_regularization_strength: float = 0.0
    l2_regularization_strength: float = 0.0

    def transformation(self, learning_rate):
        if callable(learning_rate):
            raise ValueError("Ftrl: lr_decay is not supported with FTRL.")
        return ftrl(learning_rate, self.learning_rate_power, self.initial_accumulator_value,
                    self.l1_regularization_strength, self.l2_regularization_strength)


_OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam,
               "rmsprop": RMSProp, "adagrad": AdaGrad, "adadelta": AdaDelta, "ftrl": Ftrl}


def get(identifier, learning_rate: float = 0.001) -> Optimizer | optax.GradientTransformation:
    """Resolves an optimizer: a name (built with `learning_rate`), an `Optimizer`, or an optax
    `GradientTransformation` (used as is).

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
        TypeError: If `identifier` is none of the above.
    """
    if isinstance(identifier, (Optimizer, optax.GradientTransformation)):
        return identifier
    if isinstance(identifier, str):
        cls = _OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Expected one of: "
                             f"{', '.join(sorted(_OPTIMIZERS))}, an Optimizer instance "
                             f"(e.g. stackit.SGD(0.1)) or an optax transformation.")
        return cls(learning_rate=learning_rate)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier(learning_rate=learning_rate)
    raise TypeError("Expected an optimizer name, an Optimizer instance or an optax "
                    f"GradientTransformation. Received: optimizer={identifier!r}.")


def build(identifier, learning_rate: float = 0.001) -> optax.GradientTransformation:
    """The optax transformation for anything `get` accepts."""
    found = get(identifier, learning_rate)
    return found if isinstance(found, optax.GradientTransformation) else found.build()
