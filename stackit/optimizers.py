"""tflearn's optimizers as thin, named descriptions of optax transformations.

`SGD(learning_rate=0.1, lr_decay=0.96, decay_step=1000)` is a frozen description; `build()`
returns the optax `GradientTransformation`, with learning-rate decay as an optax schedule.
Names (`'adam'`, `'sgd'`, ...) map to these classes; an optax transformation passes through.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from stackit._registry import configurable

__all__ = [
    "get", "build", "Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "RMSProp", "AdaGrad",
    "AdaDelta", "Ftrl", "ftrl", "scale_by_tf_adam",
]


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """Base class. Subclasses hold tflearn's arguments and implement `transformation(lr)`.

    Each subclass takes tflearn's arguments in tflearn's positional order (e.g.
    `Momentum(learning_rate, momentum, lr_decay, decay_step, staircase)`,
    `Adam(learning_rate, beta1, beta2, epsilon)`); where tflearn has no learning-rate decay,
    stackit accepts `lr_decay`, `decay_step` and `staircase` as keywords.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        use_locking: Accepted for tflearn compatibility; ignored. Defaults to `False`.
        name: Accepted for tflearn compatibility; ignored. Defaults to `None`.
    """

    learning_rate: float = 0.001
    use_locking: bool = dataclasses.field(default=False, kw_only=True)
    name: str | None = dataclasses.field(default=None, kw_only=True)
    #: The allowed interval of each hyperparameter of a subclass, e.g. `{"beta1": "[0, 1)"}`.
    ranges: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative "
                             f"number. Received: learning_rate={lr!r}.")
        for field, interval in self.ranges.items():
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{type(self).__name__}: {field} must be a number in "
                                f"{interval}. Received: {field}={value!r}.")
            if not _within(float(value), interval):
                raise ValueError(f"{type(self).__name__}: {field} must be in {interval}. "
                                 f"Received: {field}={value!r}.")
        lr_decay, decay_step = getattr(self, "lr_decay", 0.0), getattr(self, "decay_step", 1)
        if lr_decay and (not isinstance(decay_step, int) or decay_step < 1
                         or not 0 < lr_decay <= 1):
            raise ValueError(f"{type(self).__name__}: lr_decay must be in (0, 1] and "
                             f"decay_step a positive int. Received: lr_decay={lr_decay!r}, "
                             f"decay_step={decay_step!r}.")

    def schedule(self) -> optax.Schedule | float:
        """The learning rate, or TensorFlow's `exponential_decay` when `lr_decay` is set:
        `learning_rate * lr_decay ** (step / decay_step)` (integer division if `staircase`)."""
        lr_decay = getattr(self, "lr_decay", 0.0)  # the decay fields belong to subclasses
        if not lr_decay:
            return self.learning_rate
        return optax.exponential_decay(self.learning_rate, getattr(self, "decay_step", 100),
                                       lr_decay, staircase=getattr(self, "staircase", False))

    def transformation(self, learning_rate) -> optax.GradientTransformation:
        """The optax transformation for a learning rate (a number or a schedule)."""
        raise NotImplementedError

    def build(self) -> optax.GradientTransformation:
        """The optax transformation this optimizer describes."""
        return self.transformation(self.schedule())


def _within(value: float, interval: str) -> bool:
    """Whether `value` lies in an interval written as `'[0, 1)'`, `'(0, inf)'`, ..."""
    low, high = (float(end) for end in interval[1:-1].split(","))
    above = low <= value if interval[0] == "[" else low < value
    return above and (value <= high if interval[-1] == "]" else value < high)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Decay:
    """Learning-rate decay as keywords, for optimizers whose tflearn signature lacks it."""

    lr_decay: float = 0.0
    decay_step: int = 100
    staircase: bool = False


def _optimizer(cls):
    return configurable(dataclasses.dataclass(frozen=True)(cls))


@_optimizer
class SGD(Optimizer):
    """Plain stochastic gradient descent: `w -= lr * g`.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        lr_decay: Exponential decay rate applied every `decay_step` steps (0 disables it).
            Defaults to `0.0`.
        decay_step: Steps per decay period. Defaults to `100`.
        staircase: Decay in discrete steps rather than smoothly. Defaults to `False`.
    """

    lr_decay: float = 0.0
    decay_step: int = 100
    staircase: bool = False

    def transformation(self, learning_rate):
        return optax.sgd(learning_rate)


@_optimizer
class Momentum(Optimizer):
    """SGD with momentum, as TensorFlow: `accum = momentum * accum + g; w -= lr * accum`.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        momentum: Decay of the accumulated gradient. Defaults to `0.9`.
        lr_decay: Exponential decay rate (0 disables it). Defaults to `0.0`.
        decay_step: Steps per decay period. Defaults to `100`.
        staircase: Decay in discrete steps. Defaults to `False`.
    """

    momentum: float = 0.9
    lr_decay: float = 0.0
    decay_step: int = 100
    staircase: bool = False
    ranges = {"momentum": "[0, 1]"}

    def transformation(self, learning_rate):
        return optax.sgd(learning_rate, momentum=self.momentum)


@_optimizer
class Nesterov(Momentum):
    """SGD with Nesterov momentum, as TensorFlow: `w -= lr * (g + momentum * accum)`.

    Same arguments as `Momentum`.
    """

    def transformation(self, learning_rate):
        return optax.sgd(learning_rate, momentum=self.momentum, nesterov=True)


class ScaleByTFAdamState(NamedTuple):
    """Adam's step count and first/second moment estimates."""

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    mu: Any
    nu: Any


def scale_by_tf_adam(b1: float = 0.9, b2: float = 0.999,
                     eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam's direction as TensorFlow 1 computes it, `eps` added *after* bias correction:
    `sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`.

    optax's `scale_by_adam` adds `eps` to the bias-corrected `sqrt(v_hat)` instead; the two
    differ when `eps` is large (tflearn suggests `epsilon=1.0` or `0.1` for some models).
    """

    def init(params):
        return ScaleByTFAdamState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, params),
                                  jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda g, m: b1 * m + (1.0 - b1) * g, updates, state.mu)
        nu = jax.tree.map(lambda g, v: b2 * v + (1.0 - b2) * g * g, updates, state.nu)
        count = state.count + 1
        t = count.astype(jnp.float32)
        scale = jnp.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        updates = jax.tree.map(lambda m, v: scale * m / (jnp.sqrt(v) + eps), mu, nu)
        return updates, ScaleByTFAdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


@_optimizer
class Adam(Optimizer, _Decay):
    """Adam as TensorFlow 1 (`epsilon` is TensorFlow's "epsilon hat").

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        beta1: Decay of the first moment. Defaults to `0.9`.
        beta2: Decay of the second moment. Defaults to `0.999`.
        epsilon: Added to `sqrt(v)`. Defaults to `1e-8`.
    """

    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    ranges = {"beta1": "[0, 1)", "beta2": "[0, 1)", "epsilon": "[0, inf)"}

    def transformation(self, learning_rate):
        return optax.chain(scale_by_tf_adam(self.beta1, self.beta2, self.epsilon),
                           optax.scale_by_learning_rate(learning_rate))


@_optimizer
class RMSProp(Optimizer, _Decay):
    """RMSProp as TensorFlow 1: `ms = decay * ms + (1 - decay) * g^2` with `ms` starting at 1,
    `mom = momentum * mom + lr * g / sqrt(ms + epsilon)`, `w -= mom`.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        decay: Decay of the mean square. Defaults to `0.9`.
        momentum: Momentum. Defaults to `0.0`.
        epsilon: Added to the mean square. Defaults to `1e-10`.
    """

    decay: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-10
    ranges = {"decay": "[0, 1]", "momentum": "[0, 1]", "epsilon": "[0, inf)"}

    def transformation(self, learning_rate):
        return optax.rmsprop(learning_rate, decay=self.decay, eps=self.epsilon, initial_scale=1.0,
                             momentum=self.momentum or None)


@_optimizer
class AdaGrad(Optimizer, _Decay):
    """AdaGrad as TensorFlow 1: `accum += g^2; w -= lr * g / sqrt(accum)`.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        initial_accumulator_value: Starting value of `accum` (positive). Defaults to `0.1`.
    """

    initial_accumulator_value: float = 0.1
    ranges = {"initial_accumulator_value": "(0, inf)"}

    def transformation(self, learning_rate):
        return optax.adagrad(learning_rate,
                             initial_accumulator_value=self.initial_accumulator_value, eps=0.0)


@_optimizer
class AdaDelta(Optimizer, _Decay):
    """AdaDelta (Zeiler, 2012) as TensorFlow 1, with tflearn's defaults.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        rho: Decay of the running averages. Defaults to `0.1`.
        epsilon: Conditioning constant. Defaults to `1e-8`.
    """

    rho: float = 0.1
    epsilon: float = 1e-8
    ranges = {"rho": "[0, 1]", "epsilon": "[0, inf)"}

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
        leaves, treedef = jax.tree.flatten(updates)
        rows = [update_one(*args) for args in zip(leaves, treedef.flatten_up_to(state.n),
                                                   treedef.flatten_up_to(state.z),
                                                   treedef.flatten_up_to(params), strict=True)]
        delta, n, z = ([row[i] for row in rows] for i in range(3))
        return (treedef.unflatten(delta),
                FtrlState(treedef.unflatten(n), treedef.unflatten(z)))

    return optax.GradientTransformation(init, update)


@_optimizer
class Ftrl(Optimizer):
    """Follow-the-regularized-leader (FTRL-proximal) as TensorFlow 1, tflearn's defaults.

    Args:
        learning_rate: Step size. Defaults to `3.0`.
        learning_rate_power: Power of the per-coordinate learning rate. Defaults to `-0.5`.
        initial_accumulator_value: Starting value of the squared-gradient sum. Defaults to `0.1`.
        l1_regularization_strength: L1 strength. Defaults to `0.0`.
        l2_regularization_strength: L2 strength. Defaults to `0.0`.
    """

    learning_rate: float = 3.0
    learning_rate_power: float = -0.5
    initial_accumulator_value: float = 0.1
    l1_regularization_strength: float = 0.0
    l2_regularization_strength: float = 0.0
    ranges = {"learning_rate_power": "(-inf, 0]", "initial_accumulator_value": "[0, inf)",
              "l1_regularization_strength": "[0, inf)", "l2_regularization_strength": "[0, inf)"}

    def transformation(self, learning_rate):
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
