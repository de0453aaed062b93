"""Convolution and pooling layers (NHWC): conv_2d, max_pool_2d, avg_pool_2d, global pools."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from stackit import activations, initializations
from stackit.layers.base import Layer, Tensor, activated_shape, as_float, channels_last

__all__ = [
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool", "GlobalMaxPool",
    "conv_2d", "max_pool_2d", "avg_pool_2d", "global_avg_pool", "global_max_pool",
]

_LAYOUT = "batch, height, width, channels"
_PADDINGS = ("same", "valid")


def _pair(value, what: str, layer: Layer) -> tuple[int, int]:
    """`3` → `(3, 3)`; `[1, 2, 2, 1]` (TensorFlow's NHWC form) → `(2, 2)`."""
    if isinstance(value, int):
        value = (value, value)
    if not isinstance(value, (tuple, list)):
        raise layer.error(f"{what} must be a positive int or a pair of them.", **{what: value})
    value = tuple(value)
    if len(value) == 4:
        value = value[1:3]
    if len(value) != 2 or any(not isinstance(v, int) or v < 1 for v in value):
        raise layer.error(f"{what} must be a positive int or a pair of them.", **{what: value})
    return value


def _check_padding(layer: Conv2D | _Pool2D) -> None:
    if not isinstance(layer.padding, str) or layer.padding.lower() not in _PADDINGS:
        raise layer.error(f"padding must be one of {_PADDINGS}.", padding=layer.padding)


def _pooled_size(size: int, window: int, stride: int, padding: str) -> int:
    if padding.lower() == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


@dataclasses.dataclass(frozen=True)
class Conv2D(Layer):
    """2-D convolution `activation(conv(x, W) + b)` with `W` of shape (kh, kw, in, filters).

    Args:
        filters: Number of output channels (tflearn: `nb_filter`).
        kernel_size: Window size, int or (h, w) (tflearn: `filter_size`).
        strides: Step, int or (h, w). Defaults to `1`.
        padding: `'same'` or `'valid'`. Defaults to `'same'`.
        activation: Activation name or callable. Defaults to `'linear'`.
        bias: Whether to add a bias. Defaults to `True`.
        weights_init: Defaults to `'uniform_scaling'`.
        bias_init: Defaults to `'zeros'`.
        regularizer: `'L2'`, `'L1'` or None. Defaults to `None`.
        weight_decay: Penalty factor. Defaults to `0.001`.

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, new_height, new_width, filters)`.

    Example: `Conv2D(32, 3, activation='relu')` or `conv_2d(net, 32, 3, activation='relu')`.
    """

    filters: int = 1
    kernel_size: int | tuple = 3
    strides: int | tuple = 1
    padding: str = "same"
    activation: str | Callable = "linear"
    bias: bool = True
    weights_init: str | Callable = "uniform_scaling"
    bias_init: str | Callable = "zeros"
    regularizer: str | Callable | None = None
    weight_decay: float = 0.001
    default_name = "Conv2D"
    fn_name = "conv_2d"
    cpu_scan_slow = True  # XLA:CPU runs conv gradients inside a while loop on a slow path

    def check(self):
        if isinstance(self.filters, bool) or not isinstance(self.filters, int) or self.filters < 1:
            raise self.error("nb_filter must be a positive int.", nb_filter=self.filters)
        _pair(self.kernel_size, "filter_size", self)
        _pair(self.strides, "strides", self)
        _check_padding(self)
        self.check_weight_args()

    def penalty(self, params):
        return self.weight_penalty(params)

    def init(self, key, input_shape):
        self.expect_rank(input_shape, 3, _LAYOUT)
        (kh, kw), (sh, sw) = _pair(self.kernel_size, "filter_size", self), _pair(
            self.strides, "strides", self)
        h, w, c = input_shape
        out_h, out_w = _pooled_size(h, kh, sh, self.padding), _pooled_size(w, kw, sw, self.padding)
        if out_h < 1 or out_w < 1:
            raise self.error(f"a {kh}x{kw} 'valid' window does not fit the input.",
                             shape=(None, *input_shape))
        w_key, b_key = jax.random.split(key)
        params = {"W": initializations.get(self.weights_init)(w_key, (kh, kw, c, self.filters))}
        if self.bias:
            params["b"] = initializations.get(self.bias_init)(b_key, (self.filters,))
        return params, {}, activated_shape(self.activation, (out_h, out_w, self.filters))

    def apply(self, params, state, x, *, training, key):
        del training, key
        y = lax.conv_general_dilated(
            as_float(x), params["W"], window_strides=_pair(self.strides, "strides", self),
            padding=self.padding.upper(), dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if self.bias:
            y = y + channels_last(params["b"], y.ndim)
        return activations.get(self.activation)(y), state


@dataclasses.dataclass(frozen=True)
class _Pool2D(Layer):
    kernel_size: int | tuple = 2
    strides: int | tuple | None = None
    padding: str = "same"

    def check(self):
        _pair(self.kernel_size, "kernel_size", self)
        if self.strides is not None:
            _pair(self.strides, "strides", self)
        _check_padding(self)

    def window(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        kh, kw = _pair(self.kernel_size, "kernel_size", self)
        sh, sw = _pair(self.strides or self.kernel_size, "strides", self)
        return (1, kh, kw, 1), (1, sh, sw, 1)

    def output_shape(self, input_shape):
        self.expect_rank(input_shape, 3, _LAYOUT)
        (_, kh, kw, _), (_, sh, sw, _) = self.window()
        h, w, c = input_shape
        out = (_pooled_size(h, kh, sh, self.padding), _pooled_size(w, kw, sw, self.padding), c)
        if min(out) < 1:
            raise self.error(f"a {kh}x{kw} 'valid' window does not fit the input.",
                             shape=(None, *input_shape))
        return out


@dataclasses.dataclass(frozen=True)
class MaxPool2D(_Pool2D):
    """Max over `kernel_size` windows; `strides` default to the kernel size (tflearn)."""

    default_name = "MaxPool2D"
    fn_name = "max_pool_2d"

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        dims, strides = self.window()
        x = as_float(x)
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, self.padding.upper()), state


@dataclasses.dataclass(frozen=True)
class AvgPool2D(_Pool2D):
    """Mean over `kernel_size` windows; with 'same' padding, only real values are averaged."""

    default_name = "AvgPool2D"
    fn_name = "avg_pool_2d"

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        dims, strides = self.window()
        pad = self.padding.upper()
        total = lax.reduce_window(as_float(x), 0.0, lax.add, dims, strides, pad)
        count = lax.reduce_window(jnp.ones(x.shape[1:3], total.dtype)[None, :, :, None], 0.0,
                                  lax.add, dims, strides, pad)
        return total / count, state


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """Mean over height and width: `(batch, h, w, c)` → `(batch, c)`."""

    default_name = "GlobalAvgPool"
    fn_name = "global_avg_pool"

    def output_shape(self, input_shape):
        self.expect_rank(input_shape, 3, _LAYOUT)
        return (input_shape[-1],)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return jnp.mean(x, axis=(1, 2)), state


@dataclasses.dataclass(frozen=True)
class GlobalMaxPool(GlobalAvgPool):
    """Max over height and width: `(batch, h, w, c)` → `(batch, c)`."""

    default_name = "GlobalMaxPool"
    fn_name = "global_max_pool"

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return jnp.max(x, axis=(1, 2)), state


# -- tflearn's functions --------------------------------------------------------------------------

def conv_2d(incoming: Tensor, nb_filter: int, filter_size, strides=1, padding="same",
            activation="linear", bias=True, weights_init="uniform_scaling", bias_init="zeros",
            regularizer=None, weight_decay=0.001, trainable=True, restore=True, reuse=False,
            scope=None, name: str | None = None) -> Tensor:
    """Adds a `Conv2D` layer (tflearn argument names). See `Conv2D`."""
    return Conv2D(filters=nb_filter, kernel_size=filter_size, strides=strides, padding=padding,
                  activation=activation, bias=bias, weights_init=weights_init,
                  bias_init=bias_init, regularizer=regularizer, weight_decay=weight_decay,
                  trainable=trainable, restore=restore,
                  name=scope or name)(incoming, reuse=reuse)


def max_pool_2d(incoming: Tensor, kernel_size, strides=None, padding="same",
                name: str | None = None) -> Tensor:
    """Adds a `MaxPool2D` layer; `strides` default to `kernel_size`."""
    return MaxPool2D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=name)(incoming)


def avg_pool_2d(incoming: Tensor, kernel_size, strides=None, padding="same",
                name: str | None = None) -> Tensor:
    """Adds an `AvgPool2D` layer; `strides` default to `kernel_size`."""
    return AvgPool2D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=name)(incoming)


def global_avg_pool(incoming: Tensor, name: str | None = None) -> Tensor:
    """Adds a `GlobalAvgPool` layer."""
    return GlobalAvgPool(name=name)(incoming)


def global_max_pool(incoming: Tensor, name: str | None = None) -> Tensor:
    """Adds a `GlobalMaxPool` layer."""
    return GlobalMaxPool(name=name)(incoming)
