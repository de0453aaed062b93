"""Convolutions, channels last, over 1, 2 or 3 spatial axes, and the helpers they share.

One N-d convolution (`_ConvND`, its spatial rank a class attribute) underlies `Conv1D`,
`Conv2D`, `Conv3D`, `AtrousConv2D` and the transposes (`conv_transpose.py`); `W` has shape
`(*kernel, in, out)`. Pooling is in `pooling.py`; tflearn's functions (`conv_2d`, ...) are in
`stackit.layers.conv`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import jax
from jax import lax

from stackit import activations, initializations
from stackit.layers._xla_cpu import conv_2d
from stackit.layers.base import Layer, Shape, activated_shape, as_float, channels_last

__all__ = ["Conv1D", "Conv2D", "Conv3D", "AtrousConv2D", "GroupedConv2D"]

#: A size per spatial axis: an int for all, one per axis, or TensorFlow's `[1, ..., 1]`.
Size = int | Sequence[int]
LAYOUTS = {1: "batch, steps, channels", 2: "batch, height, width, channels",
           3: "batch, depth, height, width, channels"}
_AXES = {1: "W", 2: "HW", 3: "DHW"}            # spatial letters of lax's dimension numbers
_SEVERAL = {1: "a 1-tuple", 2: "a pair", 3: "a triple"}   # of ints
TF_FORM = {1: "[1, w, 1]", 2: "[1, h, w, 1]", 3: "[1, d, h, w, 1]"}
_PADDINGS = ("same", "valid")


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def ntuple(value: Any, rank: int, what: str, layer: Layer) -> tuple[int, ...]:
    """One positive int per spatial axis: `3` → `(3,) * rank`; a `rank`-tuple as is;
    TensorFlow's form with the batch and channel axes, `(1, *sizes, 1)`, → `sizes`."""
    if is_int(value):
        value = (value,) * rank
    elif isinstance(value, (tuple, list)) and len(value) == rank + 2 and \
            value[0] == value[-1] == 1:
        value = tuple(value[1:-1])
    if not isinstance(value, (tuple, list)) or len(value) != rank or \
            not all(is_int(v) and v >= 1 for v in value):
        raise layer.error(f"{what} must be a positive int or {_SEVERAL[rank]} of them "
                          f"(or TensorFlow's {TF_FORM[rank]}).", **{what: value})
    return tuple(value)


def check_padding(layer: Any) -> None:
    if not isinstance(layer.padding, str) or layer.padding.lower() not in _PADDINGS:
        raise layer.error(f"padding must be one of {_PADDINGS}.", padding=layer.padding)


def out_size(size: int, window: int, stride: int, padding: str) -> int:
    """TensorFlow's output size: `ceil(size / stride)` ('same'), else only whole windows."""
    if padding.lower() == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


def expect_spatial(layer: Any, input_shape: Shape, rank: int) -> None:
    """Refuses an input that is not `(batch, *rank spatial axes, channels)`, naming the
    function for the input's rank when the layer's family has one (`conv_2d` for images)."""
    if len(input_shape) == rank + 1:
        return
    other = len(input_shape) - 1
    hint = ""
    if layer.family and other in layer.family_ranks:
        hint = f" For a {other + 2}-D input use {layer.family.format(other)}."
    raise ValueError(f"{layer.fn_name} {layer.name!r}: expected a {rank + 2}-D input "
                     f"({LAYOUTS[rank]}). Received: shape={(None, *input_shape)}.{hint}")


def dims(rank: int, kernel: str) -> tuple[str, str, str]:
    """lax dimension numbers: channels-last data, `kernel` ('IO' or 'OI') after the window."""
    data = f"N{_AXES[rank]}C"
    return data, _AXES[rank] + kernel, data


class _ConvBase(Layer):
    """Shared by the convolutions: argument parsing, output sizes, `W` and `b`, the `lax` call.

    Subclasses are dataclasses that define the fields below and may override the hooks
    `weight_shape`, `out_channels`, `spatial_out` and `convolve`.
    """

    kernel_size: Any
    strides: Any
    padding: str
    activation: Any
    bias: bool
    weights_init: Any
    bias_init: Any
    regularizer: Any
    weight_decay: float
    dilation_rate: Any

    rank: ClassVar[int] = 2
    #: The tflearn function for another rank, `'conv_{}d'`, named when an input's rank is wrong.
    family: ClassVar[str] = ""
    family_ranks: ClassVar[tuple[int, ...]] = (1, 2, 3)
    cpu_scan_slow = True  # XLA:CPU runs conv gradients inside a while loop on a slow path

    def kernel(self) -> tuple[int, ...]:
        return ntuple(self.kernel_size, self.rank, "filter_size", self)

    def stride(self) -> tuple[int, ...]:
        return ntuple(self.strides, self.rank, "strides", self)

    def dilation(self) -> tuple[int, ...]:
        return ntuple(self.dilation_rate, self.rank, "dilation_rate", self)

    def effective_kernel(self) -> tuple[int, ...]:
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel(), self.dilation(), strict=True))

    def check_units(self) -> None:
        """Validates the output-channel argument (`filters` or `channel_multiplier`)."""

    def check(self):
        self.check_units()
        self.kernel()
        self.stride()
        self.dilation()
        check_padding(self)
        self.check_weight_args()

    def penalty(self, params):
        return self.weight_penalty(params)

    def weight_shape(self, in_channels: int) -> Shape:
        raise NotImplementedError

    def out_channels(self, in_channels: int) -> int:
        raise NotImplementedError

    def spatial_out(self, input_shape: Shape) -> Shape:
        """The output's spatial sizes for a per-sample `input_shape`; refuses a wrong rank."""
        expect_spatial(self, input_shape, self.rank)
        sizes = tuple(out_size(n, k, s, self.padding) for n, k, s in
                      zip(input_shape[:-1], self.effective_kernel(), self.stride(), strict=True))
        if min(sizes) < 1:
            window = "x".join(map(str, self.effective_kernel()))
            raise self.error(f"a {window} 'valid' window does not fit the input.",
                             shape=(None, *input_shape))
        return sizes

    def init(self, key, input_shape):
        input_shape = tuple(input_shape)
        sizes = self.spatial_out(input_shape)
        in_channels, out_channels = input_shape[-1], self.out_channels(input_shape[-1])
        w_key, b_key = jax.random.split(key)
        params = {"W": initializations.get(self.weights_init)(w_key,
                                                              self.weight_shape(in_channels))}
        if self.bias:
            params["b"] = initializations.get(self.bias_init)(b_key, (out_channels,))
        return params, {}, activated_shape(self.activation, (*sizes, out_channels))

    def convolve(self, w: jax.Array, x: jax.Array) -> jax.Array:
        """`x` convolved with `w`, before the bias and the activation."""
        if self.rank == 2:  # a faster forward pass for few input channels on CPU
            return conv_2d(as_float(x), w, self.stride(), self.padding.upper(), self.dilation())
        return lax.conv_general_dilated(
            as_float(x), w, window_strides=self.stride(), padding=self.padding.upper(),
            rhs_dilation=self.dilation(), dimension_numbers=dims(self.rank, "IO"))

    def apply(self, params, state, x, *, training, key):
        del training, key
        y = self.convolve(params["W"], x)
        if self.bias:
            y = y + channels_last(params["b"], y.ndim)
        return activations.get(self.activation)(y), state


@dataclasses.dataclass(frozen=True)
class _ConvND(_ConvBase):
    """N-d convolution `activation(conv(x, W) + b)`; `rank` is the number of spatial axes."""

    filters: int = 1
    kernel_size: Size = 3
    strides: Size = 1
    padding: str = "same"
    activation: str | Callable = "linear"
    bias: bool = True
    weights_init: str | Callable = "uniform_scaling"
    bias_init: str | Callable = "zeros"
    regularizer: str | Callable | None = None
    weight_decay: float = 0.001
    dilation_rate: Size = 1

    def check_units(self):
        if not is_int(self.filters) or self.filters < 1:
            raise self.error("nb_filter must be a positive int.", nb_filter=self.filters)

    def weight_shape(self, in_channels):
        return (*self.kernel(), in_channels, self.filters)

    def out_channels(self, in_channels):
        return self.filters


_CONV_ARGS = """Args:
        filters: Number of output channels (tflearn: `nb_filter`).
        kernel_size: Window size, an int or one per axis (tflearn: `filter_size`).
        strides: Step, an int, one per axis, or TensorFlow's `[1, ..., 1]`. Defaults to `1`.
        padding: `'same'` (size `ceil(n / stride)`) or `'valid'`. Defaults to `'same'`.
        activation: Activation name or callable. Defaults to `'linear'`.
        bias: Whether to add a bias `b`. Defaults to `True`.
        weights_init: Initializer of `W`. Defaults to `'uniform_scaling'`.
        bias_init: Initializer of `b`. Defaults to `'zeros'`.
        regularizer: `'L2'`, `'L1'` or None, on `W`. Defaults to `None`.
        weight_decay: Penalty factor. Defaults to `0.001`.
        dilation_rate: Spacing of the kernel taps (atrous). Defaults to `1`.
"""


@dataclasses.dataclass(frozen=True)
class Conv1D(_ConvND):
    __doc__ = f"""1-D convolution over steps, `W` of shape `(k, in, filters)`.

    {_CONV_ARGS}
    Input shape: `(batch, steps, in_channels)`.
    Output shape: `(batch, new_steps, filters)`.

    Example: `Conv1D(128, 3, padding='valid', activation='relu')` or
    `conv_1d(net, 128, 3, padding='valid', activation='relu')`.
    """

    rank = 1
    family = "conv_{}d"
    default_name = "Conv1D"
    fn_name = "conv_1d"


@dataclasses.dataclass(frozen=True)
class Conv2D(_ConvND):
    __doc__ = f"""2-D convolution `activation(conv(x, W) + b)`, `W` of shape (kh, kw, in, filters).

    {_CONV_ARGS}
    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, new_height, new_width, filters)`.

    Example: `Conv2D(32, 3, activation='relu')` or `conv_2d(net, 32, 3, activation='relu')`.
    """

    rank = 2
    family = "conv_{}d"
    default_name = "Conv2D"
    fn_name = "conv_2d"


@dataclasses.dataclass(frozen=True)
class Conv3D(_ConvND):
    __doc__ = f"""3-D convolution over volumes, `W` of shape `(kd, kh, kw, in, filters)`.

    {_CONV_ARGS}
    Input shape: `(batch, depth, height, width, in_channels)`.
    Output shape: `(batch, new_depth, new_height, new_width, filters)`.

    Example: `Conv3D(8, 3, strides=2)` or `conv_3d(net, 8, 3, strides=2)`.
    """

    rank = 3
    family = "conv_{}d"
    default_name = "Conv3D"
    fn_name = "conv_3d"


@dataclasses.dataclass(frozen=True)
class AtrousConv2D(_ConvND):
    """2-D dilated ("atrous") convolution: `Conv2D` with `dilation_rate` (tflearn: `rate`)
    taps apart; with 'same' padding the output keeps the input's size. Arguments as `Conv2D`.

    Example: `atrous_conv_2d(net, 16, 3, rate=2)`.
    """

    rank = 2
    default_name = "AtrousConv2D"
    fn_name = "atrous_conv_2d"


@dataclasses.dataclass(frozen=True)
class GroupedConv2D(_ConvBase):
    """Depthwise 2-D convolution (tflearn's `grouped_conv_2d`): each input channel `k` gets
    its own `channel_multiplier` filters; output channel `k * channel_multiplier + q` is
    channel `k` convolved with `W[..., k, q]`.

    Args: `channel_multiplier` (a positive int), then as `Conv2D`, except that `bias`
        defaults to `False` (tflearn).

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, new_height, new_width, in_channels * channel_multiplier)`.
    Parameters: `W` `(kh, kw, in_channels, channel_multiplier)`, `b` when `bias`.

    Example: `grouped_conv_2d(net, 2, 3)` or `GroupedConv2D(2, 3)`.
    """

    channel_multiplier: int = 1
    kernel_size: Size = 3
    strides: Size = 1
    padding: str = "same"
    activation: str | Callable = "linear"
    bias: bool = False
    weights_init: str | Callable = "uniform_scaling"
    bias_init: str | Callable = "zeros"
    regularizer: str | Callable | None = None
    weight_decay: float = 0.001
    dilation_rate: Size = 1
    default_name = "GroupedConv2D"
    fn_name = "grouped_conv_2d"

    def check_units(self):
        if not is_int(self.channel_multiplier) or self.channel_multiplier < 1:
            raise self.error("channel_multiplier must be a positive int.",
                             channel_multiplier=self.channel_multiplier)

    def weight_shape(self, in_channels):
        return (*self.kernel(), in_channels, self.channel_multiplier)

    def out_channels(self, in_channels):
        return in_channels * self.channel_multiplier

    def convolve(self, w, x):
        k_h, k_w, channels, mult = w.shape   # one group per input channel
        return lax.conv_general_dilated(
            as_float(x), w.reshape(k_h, k_w, 1, channels * mult), window_strides=self.stride(),
            padding=self.padding.upper(), rhs_dilation=self.dilation(),
            dimension_numbers=dims(2, "IO"), feature_group_count=channels)
