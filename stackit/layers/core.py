"""Core layers: input, dense, dropout, activation, flatten, reshape, single unit.

Each layer is a frozen dataclass (Keras-style spelling, e.g. `Dense(64, activation='relu')`)
plus tflearn's function (e.g. `fully_connected(net, 64, activation='relu')`) that builds the
same object and connects it to the incoming tensor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

from stackit import activations, initializations
from stackit.layers.base import (
    Layer,
    Tensor,
    activated_shape,
    as_float,
    channels_last,
    flat_size,
)
from stackit.layers.naming import tflearn_name
from stackit.precision import float_dtype

if TYPE_CHECKING:
    from stackit.data_augmentation import DataAugmentation
    from stackit.data_preprocessing import DataPreprocessing

__all__ = [
    "InputData", "Dense", "Dropout", "Activation", "Flatten", "Reshape", "SingleUnit",
    "Highway", "OneHotEncoding", "TimeDistributed", "CustomLayer", "CustomMergeLayer",
    "LeakyReLU", "PReLU",
    "Input", "input_data", "fully_connected", "dropout", "activation", "flatten", "reshape",
    "single_unit", "highway", "one_hot_encoding", "time_distributed", "custom_layer",
]

_FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "bool")


@dataclasses.dataclass(frozen=True)
class InputData(Layer):
    """The network's entry point: declares the per-sample shape of X and casts it to `dtype`.

    In training, `data_augmentation` runs first (on the device, with the step's key); then
    `data_preprocessing` always runs, with statistics kept in this layer's state (computed once
    from the training data by the first `fit`, and saved with checkpoints).

    Args:
        shape: Per-sample shape, without the batch axis (e.g. `(28, 28, 1)`; `()` for scalars).
        dtype: The dtype the input is cast to: a float type, or an integer type for token ids
            (e.g. `'int32'` before an `embedding`). Defaults to `'float32'`.
        data_preprocessing: An `ImagePreprocessing`/`DataPreprocessing`. Defaults to `None`.
        data_augmentation: An `ImageAugmentation`/`DataAugmentation`. Defaults to `None`.
    """

    shape: tuple = ()
    dtype: str = "float32"
    data_preprocessing: DataPreprocessing | None = None
    data_augmentation: DataAugmentation | None = None
    default_name = "InputData"
    fn_name = "input_data"
    n_inputs = 0

    def check(self):
        if any(not isinstance(d, int) or d < 1 for d in self.shape):
            raise self.error("every dimension of the per-sample shape must be a positive int "
                             "(the batch axis is left out).", shape=self.shape)
        if self.dtype not in _FLOAT_DTYPES + _INT_DTYPES:
            raise self.error(f"dtype must be one of {_FLOAT_DTYPES + _INT_DTYPES}.",
                             dtype=self.dtype)
        from stackit.data_augmentation import DataAugmentation
        from stackit.data_preprocessing import DataPreprocessing

        for arg, cls in (("data_preprocessing", DataPreprocessing),
                         ("data_augmentation", DataAugmentation)):
            value = getattr(self, arg)
            if value is not None and not isinstance(value, cls):
                raise TypeError(f"input_data: {arg} must be a stackit {cls.__name__} (e.g. "
                                f"stackit.Image{cls.__name__[4:]}()). Received: {value!r}.")
        if self.data_augmentation is not None:
            self.data_augmentation.check(tuple(self.shape))
        if self.data_preprocessing is not None:
            self.data_preprocessing.init_state(tuple(self.shape))

    def init(self, key, input_shape):
        del key
        state = {}
        if self.data_preprocessing is not None:
            state = dict(self.data_preprocessing.init_state(tuple(self.shape)))
        return {}, state, tuple(self.shape)

    def apply(self, params, state, x, *, training, key):
        del params
        x = x.astype(self.dtype)
        if training and self.data_augmentation is not None:
            x = self.data_augmentation.apply(x, key)
        if self.data_preprocessing is not None:
            x = self.data_preprocessing.apply(state, x)
        if jnp.issubdtype(x.dtype, jnp.floating) and float_dtype() != jnp.float32:
            x = x.astype(float_dtype())  # a mixed-precision model's compute dtype
        return x, state


@dataclasses.dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer `y = activation(x @ W + b)`; N-D inputs are flattened first.

    Args:
        units: Number of output units (tflearn: `n_units`).
        activation: Activation name or callable. Defaults to `'linear'`.
        bias: Whether to add a bias `b`. Defaults to `True`.
        weights_init: Initializer for `W`. Defaults to `'truncated_normal'`.
        bias_init: Initializer for `b`. Defaults to `'zeros'`.
        regularizer: `'L2'`, `'L1'` or None; adds `weight_decay * penalty(W)` to the loss.
            Defaults to `None`.
        weight_decay: Penalty factor. Defaults to `0.001`.
        trainable: Whether the optimizer updates `W` and `b`. Defaults to `True`.

    Input shape: `(batch, ...)`. Output shape: `(batch, units)`.

    Example: `Dense(64, activation='relu')` or `fully_connected(net, 64, activation='relu')`.
    """

    units: int = 1
    activation: str | Callable = "linear"
    bias: bool = True
    weights_init: str | Callable = "truncated_normal"
    bias_init: str | Callable = "zeros"
    regularizer: str | Callable | None = None
    weight_decay: float = 0.001
    default_name = "FullyConnected"
    fn_name = "fully_connected"

    def check(self):
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise self.error("n_units must be a positive int.", n_units=self.units)
        self.check_weight_args()

    def penalty(self, params):
        return self.weight_penalty(params)

    def init(self, key, input_shape):
        if len(input_shape) == 0:
            raise self.error("expected an input with at least one feature axis.",
                             shape=(None, *input_shape))
        w_key, b_key = jax.random.split(key)
        n_in = flat_size(input_shape)
        params = {"W": initializations.get(self.weights_init)(w_key, (n_in, self.units))}
        if self.bias:
            params["b"] = initializations.get(self.bias_init)(b_key, (self.units,))
        return params, {}, activated_shape(self.activation, (self.units,))

    def apply(self, params, state, x, *, training, key):
        del training, key
        x = as_float(x).reshape(x.shape[0], -1)
        y = x @ params["W"]
        if self.bias:
            y = y + channels_last(params["b"], y.ndim)
        return activations.get(self.activation)(y), state


@dataclasses.dataclass(frozen=True)
class Dropout(Layer):
    """Zeroes a random fraction `rate` of inputs in training and rescales the rest by 1/(1-rate).

    Keras spelling takes the drop `rate`; tflearn's `dropout(net, keep_prob)` takes the keep
    probability (`rate = 1 - keep_prob`). Identity when not training.
    """

    rate: float = 0.5
    default_name = "Dropout"
    fn_name = "dropout"

    def check(self):
        if not 0.0 <= self.rate < 1.0:
            raise self.error("the drop rate must be in [0, 1) (keep_prob in (0, 1]).",
                             rate=self.rate)

    def apply(self, params, state, x, *, training, key):
        del params
        if not training or self.rate == 0.0:
            return x, state
        if key is None:
            raise ValueError(f"{self.fn_name} {self.name!r}: training=True needs a PRNG `key` "
                             "for the dropout mask. Received: key=None.")
        x = as_float(x)
        keep = 1.0 - self.rate
        mask = jax.random.bernoulli(key, keep, x.shape)
        return jnp.where(mask, x / keep, jnp.zeros_like(x)), state


@dataclasses.dataclass(frozen=True)
class Activation(Layer):
    """Applies an activation function (name or callable) element-wise."""

    activation: str | Callable = "linear"
    default_name = "Activation"
    fn_name = "activation"

    def check(self):
        activations.get(self.activation)

    def output_shape(self, input_shape):
        return activated_shape(self.activation, input_shape)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return activations.get(self.activation)(x), state


@dataclasses.dataclass(frozen=True)
class Flatten(Layer):
    """Flattens each sample to one axis: `(batch, ...)` → `(batch, prod(...))`."""

    default_name = "Flatten"
    fn_name = "flatten"

    def output_shape(self, input_shape):
        return (flat_size(input_shape),)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return x.reshape(x.shape[0], -1), state


@dataclasses.dataclass(frozen=True)
class Reshape(Layer):
    """Reshapes each sample to `target_shape` (no batch axis; one entry may be -1)."""

    target_shape: tuple = ()
    default_name = "Reshape"
    fn_name = "reshape"

    def check(self):
        if not isinstance(self.target_shape, tuple) or any(
                isinstance(d, bool) or not isinstance(d, int) or (d < 1 and d != -1)
                for d in self.target_shape):
            raise self.error("new_shape must be positive ints (one may be -1), batch axis left "
                             "out.", new_shape=self.target_shape)

    def output_shape(self, input_shape):
        size, target = flat_size(input_shape), list(self.target_shape)
        if target.count(-1) > 1:
            raise self.error("at most one dimension may be -1.", new_shape=self.target_shape)
        known = flat_size([d for d in target if d != -1])
        if -1 in target:
            if known == 0 or size % known:
                raise self.error(f"cannot reshape {size} values per sample.",
                                 new_shape=self.target_shape)
            target[target.index(-1)] = size // known
        elif known != size:
            raise self.error(f"the new shape holds {known} values per sample but the input "
                             f"has {size}.", new_shape=self.target_shape,
                             shape=(None, *input_shape))
        return tuple(target)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return x.reshape(x.shape[0], *self.output_shape(x.shape[1:])), state


@dataclasses.dataclass(frozen=True)
class SingleUnit(Layer):
    """Element-wise linear unit `y = activation(x * W + b)`, tflearn's `single_unit`.

    `W` and `b` hold one value per input feature (one in all for scalar inputs), so a
    `single_unit` on `input_data(shape=[None])` is the line `y = W x + b`.
    """

    activation: str | Callable = "linear"
    bias: bool = True
    default_name = "Linear"
    fn_name = "single_unit"

    def check(self):
        activations.get(self.activation)

    def init(self, key, input_shape):
        shape = input_shape if input_shape else (1,)
        params = {"W": jax.random.normal(key, (flat_size(shape),))}
        if self.bias:
            params["b"] = jnp.zeros((flat_size(shape),))
        return params, {}, activated_shape(self.activation, tuple(input_shape))

    def apply(self, params, state, x, *, training, key):
        del training, key
        per_sample = (1, *x.shape[1:]) if x.ndim > 1 else (1,)
        y = as_float(x) * params["W"].reshape(per_sample)
        if self.bias:
            y = y + params["b"].reshape(per_sample)
        return activations.get(self.activation)(y), state


# -- tflearn's functions --------------------------------------------------------------------------

def input_data(shape: Sequence[int | None] | None = None, placeholder=None, dtype="float32",
               data_preprocessing=None, data_augmentation=None,
               name: str | None = None) -> Tensor:
    """Starts a network. `shape` includes the batch axis first, e.g. `[None, 28, 28, 1]`.

    Raises:
        ValueError: If `shape` is missing or has a non-positive dimension.
    """
    if placeholder is not None:
        raise ValueError("input_data: placeholders do not exist in stackit; pass `shape`. "
                         f"Received: placeholder={placeholder!r}.")
    if shape is None or len(shape) == 0:
        raise ValueError("input_data: `shape` is required, batch axis first, e.g. "
                         f"shape=[None, 784]. Received: shape={shape!r}.")
    dtype = getattr(dtype, "name", dtype)
    layer = InputData(tuple(shape[1:]), dtype=str(dtype), data_preprocessing=data_preprocessing,
                      data_augmentation=data_augmentation, name=tflearn_name(name))
    return Tensor(layer, (), layer.shape)


def Input(shape: Sequence[int], dtype="float32", name: str | None = None,  # noqa: N802
          **kwargs) -> Tensor:
    """Keras's `Input`: a graph input for `Model(inputs, outputs)`; `shape` has no batch axis.

    Example: `a = Input(shape=(8,), name='wide')`.
    """
    return input_data(shape=[None, *shape], dtype=dtype, name=name, **kwargs)


def fully_connected(incoming: Tensor, n_units: int, activation="linear", bias=True,
                    weights_init="truncated_normal", bias_init="zeros", regularizer=None,
                    weight_decay=0.001, trainable=True, restore=True, reuse=False, scope=None,
                    name: str | None = None) -> Tensor:
    """Adds a `Dense` layer: `activation(flatten(incoming) @ W + b)`. See `Dense` for arguments."""
    return Dense(units=n_units, activation=activation, bias=bias, weights_init=weights_init,
                 bias_init=bias_init, regularizer=regularizer, weight_decay=weight_decay,
                 trainable=trainable, restore=restore,
                 name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def dropout(incoming: Tensor, keep_prob: float, noise_shape=None,
            name: str | None = None) -> Tensor:
    """Adds dropout that KEEPS each value with probability `keep_prob` (tflearn semantics)."""
    if noise_shape is not None:
        raise ValueError("dropout: noise_shape is not supported. "
                         f"Received: noise_shape={noise_shape!r}.")
    if not isinstance(keep_prob, (int, float)) or not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"dropout: keep_prob must be in (0, 1]. "
                         f"Received: keep_prob={keep_prob!r}.")
    return Dropout(rate=1.0 - keep_prob, name=tflearn_name(name))(incoming)


def activation(incoming: Tensor, activation="linear", name: str | None = None) -> Tensor:
    """Applies an activation (tflearn name or callable) to `incoming`."""
    return Activation(activation=activation, name=tflearn_name(name))(incoming)


def flatten(incoming: Tensor, name: str | None = None) -> Tensor:
    """Flattens each sample of `incoming` to a vector."""
    return Flatten(name=tflearn_name(name))(incoming)


def reshape(incoming: Tensor, new_shape: Sequence[int], name: str | None = None) -> Tensor:
    """Reshapes `incoming`; `new_shape` includes the batch axis first (e.g. `[-1, 28, 28, 1]`)."""
    if len(new_shape) < 1:
        raise ValueError(f"reshape: new_shape must include the batch axis first. "
                         f"Received: new_shape={new_shape!r}.")
    return Reshape(target_shape=tuple(new_shape[1:]), name=tflearn_name(name))(incoming)


def single_unit(incoming: Tensor, activation="linear", bias=True, trainable=True, restore=True,
                reuse=False, scope=None, name: str | None = None) -> Tensor:
    """Adds a `SingleUnit` (`y = W x + b` per feature), as in tflearn's linear regression."""
    return SingleUnit(activation=activation, bias=bias, trainable=trainable, restore=restore,
                      name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


# -- more of tflearn's core layers ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Highway(Layer):
    """Fully connected highway layer (Srivastava et al., 2015): a learned gate `T` mixes the
    transform `H` with the (flattened) input, `y = H * T + x * (1 - T)`, where
    `H = activation(x @ W + b)` and `T = sigmoid(x @ W_T + b_T)` (`b_T` starts at -1, so the
    layer starts close to carrying its input).

    Args:
        units: Number of units; must equal the flattened input size (tflearn: `n_units`).
        activation: Activation of `H`. Defaults to `'linear'`.
        transform_dropout: Keep probability of dropout on `T` in training, or None.
        weights_init: Initializer of `W` and `W_T`. Defaults to `'truncated_normal'`.
        bias_init: Initializer of `b`. Defaults to `'zeros'`.
        regularizer: Penalty on `W` (`'L2'`, `'L1'` or None). Defaults to `None`.
        weight_decay: Penalty factor. Defaults to `0.001`.

    Input shape: `(batch, ...)` with `units` values per sample. Output shape: `(batch, units)`.

    Example: `highway(net, 64, activation='elu', transform_dropout=0.8)`.
    """

    units: int = 1
    activation: str | Callable = "linear"
    transform_dropout: float | None = None
    weights_init: str | Callable = "truncated_normal"
    bias_init: str | Callable = "zeros"
    regularizer: str | Callable | None = None
    weight_decay: float = 0.001
    default_name = "FullyConnectedHighway"
    fn_name = "highway"
    activation_last = False  # the output mixes the activation with the input

    def check(self):
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise self.error("n_units must be a positive int.", n_units=self.units)
        if self.transform_dropout is not None and not 0.0 < self.transform_dropout <= 1.0:
            raise self.error("transform_dropout is a keep probability in (0, 1], or None.",
                             transform_dropout=self.transform_dropout)
        self.check_weight_args()

    def penalty(self, params):
        return self.weight_penalty(params)

    def init(self, key, input_shape):
        n_in = flat_size(input_shape)
        if len(input_shape) == 0 or n_in != self.units:
            raise self.error(f"the gate mixes the output with the input, so the input must hold "
                             f"n_units={self.units} values per sample.",
                             shape=(None, *input_shape))
        w_key, t_key, b_key = jax.random.split(key, 3)
        init_w = initializations.get(self.weights_init)
        params = {"W": init_w(w_key, (n_in, self.units)),
                  "b": initializations.get(self.bias_init)(b_key, (self.units,)),
                  "W_T": init_w(t_key, (n_in, self.units)),
                  "b_T": jnp.full((self.units,), -1.0)}
        return params, {}, (self.units,)

    def apply(self, params, state, x, *, training, key):
        x = as_float(x).reshape(x.shape[0], -1)
        h = activations.get(self.activation)(x @ params["W"] + channels_last(params["b"], 2))
        t = jax.nn.sigmoid(x @ params["W_T"] + channels_last(params["b_T"], 2))
        if training and self.transform_dropout is not None and self.transform_dropout < 1.0:
            t, _ = Dropout(rate=1.0 - self.transform_dropout, name=self.name).apply(
                {}, {}, t, training=True, key=key)
        return h * t + x * (1.0 - t), state


@dataclasses.dataclass(frozen=True)
class OneHotEncoding(Layer):
    """Turns integer class ids into one-hot vectors: `(batch, ...)` → `(batch, ..., n_classes)`.

    Ids outside `[0, n_classes)` give a row of `off_value`.

    Example: `one_hot_encoding(labels, 10)`.
    """

    n_classes: int = 2
    on_value: float = 1.0
    off_value: float = 0.0
    default_name = "OneHotEncoding"
    fn_name = "one_hot_encoding"

    def check(self):
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int) or \
                self.n_classes < 1:
            raise self.error("n_classes must be a positive int.", n_classes=self.n_classes)

    def output_shape(self, input_shape):
        return (*input_shape, self.n_classes)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        hot = jax.nn.one_hot(x.astype(jnp.int32), self.n_classes, dtype=jnp.float32)
        return self.off_value + (self.on_value - self.off_value) * hot, state


@dataclasses.dataclass(frozen=True)
class TimeDistributed(Layer):
    """Applies one layer to every time step of a sequence, with one set of parameters (Keras's
    `TimeDistributed`): `(batch, time, ...)` → `(batch, time, ...layer output)`.

    The steps are folded into the batch axis, so the layer runs once on `batch * time` rows.

    Example: `TimeDistributed(Dense(8))(net)` or `time_distributed(net, fully_connected, [8])`.
    """

    layer: Layer | None = None
    default_name = "TimeDistributed"
    fn_name = "time_distributed"
    uses_mask = True

    def check(self):
        if not isinstance(self.layer, Layer) or self.layer.n_inputs != 1:
            raise TypeError(f"{self.fn_name} {self.name!r}: expected a layer that takes one "
                            f"tensor (e.g. Dense(8)). Received: layer={self.layer!r}.")

    @property
    def inner(self) -> Layer:
        assert self.layer is not None
        return self.layer

    def penalty(self, params):
        return self.inner.penalty(params)

    def init(self, key, input_shape):
        if len(input_shape) < 2:
            raise self.error("expected a 3-D or higher input (batch, time, ...).",
                             shape=(None, *input_shape))
        params, state, out = self.inner.init(key, tuple(input_shape[1:]))
        return params, state, (input_shape[0], *out)

    def apply(self, params, state, x, *, training, key, mask=None):
        batch, steps = x.shape[:2]
        extra = {}
        if mask is not None and self.inner.uses_mask:
            extra["mask"] = jnp.repeat(mask, steps)
        y, state = self.inner.apply(params, state, x.reshape(batch * steps, *x.shape[2:]),
                                    training=training, key=key, **extra)
        return y.reshape(batch, steps, *y.shape[1:]), state


@dataclasses.dataclass(frozen=True)
class CustomLayer(Layer):
    """Runs a function of JAX arrays on the incoming batch: `function(x, **arguments)` (Keras's
    `Lambda`, tflearn's `custom_layer`). It must keep the batch axis first and use
    `jax.numpy`; the output shape is found by tracing it once.

    A model holding one saves its weights, but `stackit.load_model` cannot rebuild the function
    from a file: rebuild the network in code and `model.load(path)` instead.

    Example: `custom_layer(net, lambda x, k: x * k, k=2.0)`.
    """

    function: Callable | None = None
    arguments: tuple = ()
    default_name = "CustomLayer"
    fn_name = "custom_layer"

    def check(self):
        if isinstance(self.arguments, dict):  # Keras passes a dict; keep it hashable
            object.__setattr__(self, "arguments", tuple(sorted(self.arguments.items())))
        if not callable(self.function):
            raise TypeError(f"{self.fn_name} {self.name!r}: custom_fn must be a callable. "
                            f"Received: {self.function!r}.")

    def _call(self, x):
        return self.function(x, **dict(self.arguments))  # type: ignore[misc]

    def output_shape(self, input_shape):
        def batch_of(shape, n):
            return jax.ShapeDtypeStruct((n, *shape), jnp.float32)

        probe = ([batch_of(s, 2) for s in input_shape] if self.n_inputs == -1
                 else batch_of(input_shape, 2))
        try:
            out = jax.eval_shape(self._call, probe)
        except Exception as err:  # the user's function: report what it raised, with context
            raise self.error(f"custom_fn failed on a batch of 2 samples: "
                             f"{type(err).__name__}: {err}") from err
        if not hasattr(out, "shape") or len(out.shape) == 0 or out.shape[0] != 2:
            raise self.error("custom_fn must return one array with the batch axis first.",
                             output=getattr(out, "shape", type(out).__name__))
        return tuple(out.shape[1:])

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return self._call(x), state


@dataclasses.dataclass(frozen=True)
class CustomMergeLayer(CustomLayer):
    """`CustomLayer` on a list of tensors: `function([x1, x2, ...], **arguments)`."""

    n_inputs = -1


@dataclasses.dataclass(frozen=True)
class LeakyReLU(Layer):
    """`x` where positive, `alpha * x` elsewhere. Keras's default slope 0.3; tflearn's
    `leaky_relu(net)` uses 0.1."""

    alpha: float = 0.3
    default_name = "LeakyReLU"
    fn_name = "leaky_relu"

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return activations.leaky_relu(as_float(x), self.alpha), state


@dataclasses.dataclass(frozen=True)
class PReLU(Layer):
    """Parametric ReLU (He et al., 2015): `relu(x) + alphas * (x - |x|) / 2`, with learned
    slopes `alphas`, one per channel (last axis) or one shared (`channel_shared=True`).

    Example: `prelu(net)` or `PReLU()(net)`.
    """

    channel_shared: bool = False
    weights_init: str | Callable = "zeros"
    default_name = "PReLU"
    fn_name = "prelu"

    def check(self):
        initializations.get(self.weights_init)

    def init(self, key, input_shape):
        if not self.channel_shared and len(input_shape) == 0:
            raise self.error("expected an input with a channel axis (or channel_shared=True).",
                             shape=(None,))
        shape = (1,) if self.channel_shared else (input_shape[-1],)
        return ({"alphas": initializations.get(self.weights_init)(key, shape)}, {},
                tuple(input_shape))

    def apply(self, params, state, x, *, training, key):
        del training, key
        x = as_float(x)
        alphas = channels_last(params["alphas"], x.ndim)
        return jax.nn.relu(x) + alphas * (x - jnp.abs(x)) * 0.5, state


def highway(incoming: Tensor, n_units: int, activation="linear", transform_dropout=None,
            weights_init="truncated_normal", bias_init="zeros", regularizer=None,
            weight_decay=0.001, trainable=True, restore=True, reuse=False, scope=None,
            name: str | None = None) -> Tensor:
    """Adds a `Highway` layer (tflearn's fully connected highway). See `Highway`."""
    return Highway(units=n_units, activation=activation, transform_dropout=transform_dropout,
                   weights_init=weights_init, bias_init=bias_init, regularizer=regularizer,
                   weight_decay=weight_decay, trainable=trainable, restore=restore,
                   name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def one_hot_encoding(target: Tensor, n_classes: int, on_value: float = 1.0,
                     off_value: float = 0.0, name: str | None = None) -> Tensor:
    """Adds a `OneHotEncoding` layer: integer ids → one-hot vectors of `n_classes`."""
    return OneHotEncoding(n_classes=n_classes, on_value=on_value, off_value=off_value,
                          name=tflearn_name(name))(target)


def time_distributed(incoming: Tensor, fn: Callable, args: Sequence | None = None,
                     scope: str | None = None) -> Tensor:
    """Applies `fn(step, *args)` (a tflearn layer function such as `fully_connected`) to every
    time step of `incoming` (`(batch, time, ...)`).

    Unlike tflearn, which built one layer per step, the steps share one layer (as Keras's
    `TimeDistributed`): `fn` is called once on a stand-in for one step and must add exactly one
    layer. With `scope`, that layer is named `scope`.

    Raises:
        ValueError: If `fn` adds no layer or several.
    """
    if not isinstance(incoming, Tensor) or len(incoming.shape) < 3:
        raise ValueError("time_distributed: expected a 3-D or higher tensor (batch, time, ...). "
                         f"Received: {incoming!r}.")
    if args is not None and not isinstance(args, (list, tuple)):
        raise TypeError(f"time_distributed: args must be a list. Received: args={args!r}.")
    step = InputData(tuple(incoming.shape[2:]), name="TimeDistributedStep")
    probe = Tensor(step, (), step.shape)
    out = fn(probe, *(args or ()), **({"scope": scope} if scope else {}))
    if not isinstance(out, Tensor) or out.parents != (probe,):
        raise ValueError("time_distributed: fn must add exactly one layer on its input (e.g. "
                         "fully_connected, conv_2d). For several layers, wrap a custom layer "
                         "in TimeDistributed.")
    return TimeDistributed(out.layer, trainable=out.layer.trainable,
                           name=scope and f"{scope}_TimeDistributed")(incoming)


def custom_layer(incoming: Tensor | Sequence[Tensor], custom_fn: Callable,
                 **kwargs) -> Tensor:
    """Adds a `CustomLayer` running `custom_fn(incoming, **kwargs)` on arrays (tflearn's
    `custom_layer`; `name=` among `kwargs` names the layer, as in tflearn)."""
    name = kwargs.pop("name", None)
    cls = CustomMergeLayer if isinstance(incoming, (list, tuple)) else CustomLayer
    return cls(function=custom_fn, arguments=tuple(sorted(kwargs.items())),
               name=tflearn_name(name))(incoming)
