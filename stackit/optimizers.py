"""tflearn's optimizers as thin, named descriptions of optax transformations.

`SGD(learning_rate=0.1, lr_decay=0.96, decay_step=1000)` is a frozen description; `build()`
returns the optax `GradientTransformation`. Its learning rate lives in the optimizer state
(`stackit.learning_rate.inject_learning_rate`), so callbacks can change it between dispatches
without recompiling; a schedule (`stackit.schedules`, any callable of the step, or tflearn's
`lr_decay`) is evaluated inside the compiled step. Names (`'adam'`, `'sgd'`, ...) map to these
classes; an optax transformation passes through.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import ClassVar

import jax
import optax

from stackit import schedules
from stackit._registry import configurable
from stackit._transforms import (
    FtrlState,
    ScaleByTFAdamState,
    ftrl,
    proximal_adagrad,
    scale_by_tf_adam,
)
from stackit.learning_rate import inject_learning_rate

__all__ = [
    "get", "build", "Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "AdamW", "RMSProp",
    "AdaGrad", "ProximalAdaGrad", "AdaDelta", "Ftrl", "ftrl", "scale_by_tf_adam",
    "ScaleByTFAdamState", "FtrlState", "decay_mask_2d",
]

#: A learning rate: a number, or a schedule (a function of the optimizer's step count).
LearningRate = float | Callable


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """Base class. Subclasses hold tflearn's arguments and implement `transformation(lr)`.

    Each subclass takes tflearn's arguments in tflearn's positional order (e.g.
    `Momentum(learning_rate, momentum, lr_decay, decay_step, staircase)`,
    `Adam(learning_rate, beta1, beta2, epsilon)`); where tflearn has no learning-rate decay,
    stackit accepts `lr_decay`, `decay_step` and `staircase` as keywords.

    Args:
        learning_rate: Step size: a number, or a schedule of the step count (a
            `stackit.schedules` object, an optax schedule or any callable written with `jnp`).
            Defaults to `0.001`.
        use_locking: Accepted for tflearn compatibility; ignored. Defaults to `False`.
        name: Accepted for tflearn compatibility; ignored. Defaults to `None`.
    """

    learning_rate: LearningRate = 0.001
    use_locking: bool = dataclasses.field(default=False, kw_only=True)
    name: str | None = dataclasses.field(default=None, kw_only=True)
    #: The allowed interval of each hyperparameter of a subclass, e.g. `{"beta1": "[0, 1)"}`.
    ranges: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        owner, lr = type(self).__name__, self.learning_rate
        lr_decay, decay_step = getattr(self, "lr_decay", 0.0), getattr(self, "decay_step", 1)
        if callable(lr):
            schedules.check(lr, owner)
            if lr_decay:
                raise ValueError(f"{owner}: lr_decay decays a number; with a schedule as "
                                 f"learning_rate, put the decay in the schedule (e.g. "
                                 f"stackit.schedules.exponential(...)). Received: "
                                 f"learning_rate={lr!r}, lr_decay={lr_decay!r}.")
        elif isinstance(lr, bool) or not isinstance(lr, numbers.Real) \
                or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"{owner}: learning_rate must be a non-negative number or a "
                             f"schedule (a callable of the step). Received: "
                             f"learning_rate={lr!r}.")
        for field, interval in self.ranges.items():
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{owner}: {field} must be a number in "
                                f"{interval}. Received: {field}={value!r}.")
            if not _within(float(value), interval):
                raise ValueError(f"{owner}: {field} must be in {interval}. "
                                 f"Received: {field}={value!r}.")
        if lr_decay and (not isinstance(decay_step, int) or decay_step < 1
                         or not 0 < lr_decay <= 1):
            raise ValueError(f"{owner}: lr_decay must be in (0, 1] and "
                             f"decay_step a positive int. Received: lr_decay={lr_decay!r}, "
                             f"decay_step={decay_step!r}.")

    def schedule(self) -> LearningRate:
        """The learning rate or schedule; with `lr_decay`, TensorFlow's `exponential_decay`:
        `learning_rate * lr_decay ** (step / decay_step)` (integer division if `staircase`)."""
        lr_decay = getattr(self, "lr_decay", 0.0)  # the decay fields belong to subclasses
        if not lr_decay:
            return self.learning_rate
        return optax.exponential_decay(self.learning_rate, getattr(self, "decay_step", 100),
                                       lr_decay, staircase=getattr(self, "staircase", False))

    def transformation(self, learning_rate) -> optax.GradientTransformation:
        """The optax transformation for a learning rate (a float32 scalar, traced inside the
        compiled step)."""
        raise NotImplementedError

    def build(self) -> optax.GradientTransformation:
        """The optax transformation this optimizer describes, its learning rate held in its
        state (a `LearningRateState`, or a `ScheduledLearningRateState` for a schedule)."""
        return inject_learning_rate(self.transformation, self.schedule())


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


def decay_mask_2d(params):
    """`AdamW`'s default weight-decay mask: True for parameters of 2 or more dimensions
    (kernels, filters, embeddings), False for 1-D and scalar ones (biases, and the scales and
    offsets of normalization layers)."""
    return jax.tree.map(lambda p: p.ndim >= 2, params)


@_optimizer
class AdamW(Optimizer, _Decay):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as Keras's `AdamW`: each
    update also subtracts `learning_rate * weight_decay * w`, outside Adam's moments (Adam's
    step is TensorFlow's, as `Adam`). Biases and normalization parameters are not decayed.

    Args:
        learning_rate: Step size (a number or a schedule; it scales the decay too). Defaults
            to `0.001`.
        weight_decay: Decay rate per unit of learning rate. Defaults to `0.004`.
        beta1: Decay of the first moment. Defaults to `0.9`.
        beta2: Decay of the second moment. Defaults to `0.999`.
        epsilon: Added to `sqrt(v)`. Defaults to `1e-8`.
        decay_mask: `fn(params) -> pytree of bools` (True: decayed), as optax's `mask`; None
            decays the parameters of 2 or more dimensions (`decay_mask_2d`). A function of
            your own cannot be saved in a model's config. Defaults to `None`.
    """

    weight_decay: float = 0.004
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    decay_mask: Callable | None = dataclasses.field(default=None, kw_only=True)
    ranges = {"weight_decay": "[0, inf)", "beta1": "[0, 1)", "beta2": "[0, 1)",
              "epsilon": "[0, inf)"}

    def __post_init__(self):
        super().__post_init__()
        if self.decay_mask is not None and not callable(self.decay_mask):
            raise TypeError(f"AdamW: decay_mask must be a function of the params returning a "
                            f"pytree of bools, or None. Received: decay_mask="
                            f"{self.decay_mask!r}.")

    def transformation(self, learning_rate):
        return optax.chain(scale_by_tf_adam(self.beta1, self.beta2, self.epsilon),
                           optax.add_decayed_weights(self.weight_decay,
                                                     self.decay_mask or decay_mask_2d),
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
class ProximalAdaGrad(Optimizer, _Decay):
    """Proximal AdaGrad as TensorFlow 1's `ProximalAdagradOptimizer`: AdaGrad's step, then the
    L1 shrinkage and L2 scaling of forward-backward splitting (Duchi and Singer, 2009).

    tflearn's `ProximalAdaGrad(learning_rate, initial_accumulator_value)` built a plain AdaGrad;
    with the regularization strengths at 0 (the defaults) this is the same update.

    Args:
        learning_rate: Step size. Defaults to `0.001`.
        initial_accumulator_value: Starting value of the squared-gradient sum (positive).
            Defaults to `0.1`.
        l1_regularization_strength: L1 strength (keyword). Defaults to `0.0`.
        l2_regularization_strength: L2 strength (keyword). Defaults to `0.0`.
    """

    initial_accumulator_value: float = 0.1
    l1_regularization_strength: float = dataclasses.field(default=0.0, kw_only=True)
    l2_regularization_strength: float = dataclasses.field(default=0.0, kw_only=True)
    ranges = {"initial_accumulator_value": "(0, inf)", "l1_regularization_strength": "[0, inf)",
              "l2_regularization_strength": "[0, inf)"}

    def transformation(self, learning_rate):
        return proximal_adagrad(learning_rate, self.initial_accumulator_value,
                                self.l1_regularization_strength, self.l2_regularization_strength)


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

    learning_rate: LearningRate = 3.0
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
               "adamw": AdamW, "rmsprop": RMSProp, "adagrad": AdaGrad,
               "proximaladagrad": ProximalAdaGrad, "adadelta": AdaDelta, "ftrl": Ftrl}


def get(identifier, learning_rate: LearningRate = 0.001
        ) -> Optimizer | optax.GradientTransformation:
    """Resolves an optimizer: a name (built with `learning_rate`, a number or a schedule), an
    `Optimizer`, or an optax `GradientTransformation` (used as is).

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


def build(identifier, learning_rate: LearningRate = 0.001) -> optax.GradientTransformation:
    """The optax transformation for anything `get` accepts."""
    found = get(identifier, learning_rate)
    return found if isinstance(found, optax.GradientTransformation) else found.build()
