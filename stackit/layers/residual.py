"""Residual, ResNeXt, DenseNet and highway blocks, as tflearn builds them.

The blocks are chains of ordinary layers in the graph (batch norm, activation, `Conv2D`,
`merge`), so their parameters are the layers' own: `residual_block` (pre-activation, two 3x3
convolutions), `residual_bottleneck` (1x1 → 3x3 → 1x1), `resnext_block` (1x1 → depthwise 3x3
→ 1x1) add a shortcut that is average-pooled when downsampling and zero-padded on the channel
axis when the block widens; `densenet_block` concatenates each layer's output with its input.
The highway convolutions are single layers with a gate (`HighwayConv1D`, `HighwayConv2D`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from stackit import activations, initializations
from stackit.layers.base import Layer, Tensor, channels_last
from stackit.layers.convolution import Conv2D, GroupedConv2D, _ConvND
from stackit.layers.core import activation as activation_layer
from stackit.layers.core import dropout as dropout_layer
from stackit.layers.merge_ops import merge
from stackit.layers.naming import tflearn_name
from stackit.layers.normalization import batch_normalization
from stackit.layers.pooling import AvgPool2D

__all__ = [
    "PadChannels", "HighwayConv1D", "HighwayConv2D",
    "residual_block", "residual_bottleneck", "resnext_block", "densenet_block",
    "highway_conv_1d", "highway_conv_2d",
]

Fn = str | Callable
#: tflearn's ResNeXt widths: cardinality → bottleneck size (the paper's Table 2).
RESNEXT_BOTTLENECK = {1: 64, 2: 40, 4: 24, 8: 14, 32: 4}


@dataclasses.dataclass(frozen=True)
class PadChannels(Layer):
    """Adds `before` and `after` zero channels on the last axis (a shortcut that widens)."""

    before: int = 0
    after: int = 0
    default_name = "PadChannels"
    fn_name = "pad_channels"

    def output_shape(self, input_shape):
        if not input_shape:
            raise self.error("expected an input with a channel axis.", shape=(None,))
        return (*input_shape[:-1], input_shape[-1] + self.before + self.after)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        pads = [(0, 0)] * (x.ndim - 1) + [(self.before, self.after)]
        return jnp.pad(x, pads), state


# -- highway convolutions -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _HighwayConv(_ConvND):
    """A convolution `C = conv(x, W)` gated per channel: `H = activation(C + b)`,
    `T = sigmoid(C * W_T + b_T)` and `y = H * T + C * (1 - T)`; `b_T` starts at -3, so the
    layer starts close to passing `C` through."""

    family = "highway_conv_{}d"
    family_ranks = (1, 2)
    activation_last = False  # the output mixes the activation with the convolution

    def init(self, key, input_shape):
        key, t_key = jax.random.split(key)
        params, state, out = super().init(key, input_shape)
        conv_shape = (*self.spatial_out(tuple(input_shape)), self.filters)
        if tuple(out) != conv_shape:
            raise self.error("the gate mixes the activation with the convolution, so the "
                             "activation must keep the shape.", activation=self.activation)
        params["W_T"] = initializations.get(self.weights_init)(t_key, (self.filters,))
        params["b_T"] = jnp.full((self.filters,), -3.0, jnp.float32)
        return params, state, out

    def apply(self, params, state, x, *, training, key):
        del training, key
        conv = self.convolve(params["W"], x)
        h = conv + channels_last(params["b"], conv.ndim) if self.bias else conv
        h = activations.get(self.activation)(h)
        t = jax.nn.sigmoid(conv * channels_last(params["W_T"], conv.ndim)
                           + channels_last(params["b_T"], conv.ndim))
        return h * t + conv * (1.0 - t), state


_HIGHWAY_DOC = """Highway {rank}-D convolution (tflearn's `highway_conv_{rank}d`): a convolution
    `C` gated per channel, `y = activation(C + b) * T + C * (1 - T)`, `T = sigmoid(C * W_T + b_T)`.

    Args: as `Conv{rank}D` (`filters` is tflearn's `nb_filter`); `activation` must keep the shape.

    Input shape: `({layout})`. Output shape: as `Conv{rank}D`'s.
    Parameters: `W`, `b`, `W_T` `(filters,)` (initialized as `W`), `b_T` `(filters,)` (-3).

    Example: `highway_conv_{rank}d(net, 16, 3, activation='elu')`.
    """


@dataclasses.dataclass(frozen=True)
class HighwayConv1D(_HighwayConv):
    __doc__ = _HIGHWAY_DOC.format(rank=1, layout="batch, steps, channels")
    rank = 1
    default_name = "HighwayConv1D"
    fn_name = "highway_conv_1d"


@dataclasses.dataclass(frozen=True)
class HighwayConv2D(_HighwayConv):
    __doc__ = _HIGHWAY_DOC.format(rank=2, layout="batch, height, width, channels")
    rank = 2
    default_name = "HighwayConv2D"
    fn_name = "highway_conv_2d"


def highway_conv_1d(incoming: Tensor, nb_filter: int, filter_size: int | Sequence[int],
                    strides: int | Sequence[int] = 1, padding: str = "same",
                    activation: Fn = "linear", weights_init: Fn = "uniform_scaling",
                    bias_init: Fn = "zeros", regularizer: Fn | None = None,
                    weight_decay: float = 0.001, trainable: bool = True, restore: bool = True,
                    reuse: bool = False, scope: str | None = None,
                    name: str | None = None) -> Tensor:
    """Adds a `HighwayConv1D` layer (tflearn argument names)."""
    return HighwayConv1D(filters=nb_filter, kernel_size=filter_size, strides=strides,
                         padding=padding, activation=activation, weights_init=weights_init,
                         bias_init=bias_init, regularizer=regularizer,
                         weight_decay=weight_decay, trainable=trainable, restore=restore,
                         name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def highway_conv_2d(incoming: Tensor, nb_filter: int, filter_size: int | Sequence[int],
                    strides: int | Sequence[int] = 1, padding: str = "same",
                    activation: Fn = "linear", weights_init: Fn = "uniform_scaling",
                    bias_init: Fn = "zeros", regularizer: Fn | None = None,
                    weight_decay: float = 0.001, trainable: bool = True, restore: bool = True,
                    reuse: bool = False, scope: str | None = None,
                    name: str | None = None) -> Tensor:
    """Adds a `HighwayConv2D` layer (tflearn argument names)."""
    return HighwayConv2D(filters=nb_filter, kernel_size=filter_size, strides=strides,
                         padding=padding, activation=activation, weights_init=weights_init,
                         bias_init=bias_init, regularizer=regularizer,
                         weight_decay=weight_decay, trainable=trainable, restore=restore,
                         name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


# -- residual blocks ------------------------------------------------------------------------------

def _count(fn: str, what: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{fn}: {what} must be an int >= {low}. Received: {what}={value!r}.")


def _image_channels(fn: str, incoming: Tensor) -> int:
    """The channels of a `(batch, height, width, channels)` tensor; refuses anything else."""
    if not isinstance(incoming, Tensor):
        raise TypeError(f"{fn}: expected the output of a previous layer as `incoming`. "
                        f"Received: incoming={type(incoming).__name__}.")
    shape = incoming.get_shape()
    if len(shape) != 4:
        raise ValueError(f"{fn}: expected a 4-D input (batch, height, width, channels). "
                         f"Received: shape={tuple(shape)}.")
    return shape[-1]


def _check_widening(fn: str, in_channels: int, out_channels: int) -> None:
    extra = out_channels - in_channels
    if extra < 0 or extra % 2:
        raise ValueError(
            f"{fn}: the shortcut widens by zero-padding the same number of channels on each "
            f"side, so out_channels - in_channels must be even and >= 0. "
            f"Received: in_channels={in_channels}, out_channels={out_channels}.")


def _shortcut(identity: Tensor, strides: int, pool_size: int, out_channels: int) -> Tensor:
    """The block's input, average-pooled by `strides` and zero-padded to `out_channels`."""
    if strides > 1:
        identity = AvgPool2D(pool_size, strides)(identity)
    extra = out_channels - identity.get_shape()[-1]
    if extra:
        identity = PadChannels(extra // 2, extra // 2)(identity)
    return identity


def _block_args(fn: str, incoming: Tensor, nb_blocks: int, out_channels: int, downsample: bool,
                downsample_strides: int) -> int:
    """Validates a residual block call before it builds anything; returns its stride."""
    _count(fn, "nb_blocks", nb_blocks, 0)   # 0 blocks: the input unchanged
    _count(fn, "out_channels", out_channels, 1)
    _count(fn, "downsample_strides", downsample_strides, 1)
    in_channels = _image_channels(fn, incoming)
    if nb_blocks:
        _check_widening(fn, in_channels, out_channels)
    return downsample_strides if downsample else 1


def _conv_args(bias: bool | None, weights_init: Fn, bias_init: Fn, regularizer: Fn | None,
               weight_decay: float, trainable: bool, restore: bool, **more: Any) -> dict[str, Any]:
    """The convolution arguments a block passes on (`bias` left out when None)."""
    args = dict(weights_init=weights_init, bias_init=bias_init, regularizer=regularizer,
                weight_decay=weight_decay, trainable=trainable, restore=restore, **more)
    if bias is not None:
        args["bias"] = bias
    return args


def residual_block(incoming: Tensor, nb_blocks: int, out_channels: int, downsample: bool = False,
                   downsample_strides: int = 2, activation: Fn = "relu", batch_norm: bool = True,
                   bias: bool = True, weights_init: Fn = "variance_scaling",
                   bias_init: Fn = "zeros", regularizer: Fn | None = "L2",
                   weight_decay: float = 0.0001, trainable: bool = True, restore: bool = True,
                   reuse: bool = False, scope: str | None = None,
                   name: str | None = None) -> Tensor:
    """Adds `nb_blocks` pre-activation residual blocks with `out_channels` filters (tflearn).

    Each block: [batch norm →] activation → 3x3 conv (strides) → [batch norm →] activation →
    3x3 conv, plus the shortcut. As in tflearn, `downsample=True` makes every block of the call
    stride by `downsample_strides` (use `nb_blocks=1` for a single downsampling block).

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, ceil(height / s), ceil(width / s), out_channels)`.

    Raises:
        ValueError: If `out_channels - in_channels` is odd or negative (the shortcut pads the
            same number of zero channels on each side).
    """
    del reuse, scope
    strides = _block_args("residual_block", incoming, nb_blocks, out_channels, downsample,
                          downsample_strides)
    conv = _conv_args(bias, weights_init, bias_init, regularizer, weight_decay, trainable,
                      restore, activation="linear")
    resnet = incoming
    for _ in range(nb_blocks):
        branch = batch_normalization(resnet) if batch_norm else resnet
        branch = activation_layer(branch, activation)
        branch = Conv2D(out_channels, 3, strides, "same", **conv)(branch)
        if batch_norm:
            branch = batch_normalization(branch)
        branch = activation_layer(branch, activation)
        branch = Conv2D(out_channels, 3, 1, "same", **conv)(branch)
        shortcut = _shortcut(resnet, strides, strides, out_channels)
        resnet = merge([branch, shortcut], "elemwise_sum", name=name if nb_blocks == 1 else None)
    return resnet


def residual_bottleneck(incoming: Tensor, nb_blocks: int, bottleneck_size: int,
                        out_channels: int, downsample: bool = False, downsample_strides: int = 2,
                        activation: Fn = "relu", batch_norm: bool = True, bias: bool = True,
                        weights_init: Fn = "variance_scaling", bias_init: Fn = "zeros",
                        regularizer: Fn | None = "L2", weight_decay: float = 0.0001,
                        trainable: bool = True, restore: bool = True, reuse: bool = False,
                        scope: str | None = None, name: str | None = None) -> Tensor:
    """Adds `nb_blocks` pre-activation bottleneck blocks (tflearn's `residual_bottleneck`).

    Each block: [batch norm →] activation → 1x1 conv to `bottleneck_size` (strides, 'valid')
    → [batch norm →] activation → 3x3 conv → 1x1 conv to `out_channels` with `activation`,
    then the shortcut is added and `activation` applied. (tflearn adds the shortcut only when
    the block widens, an indentation slip; here every block is residual, with the same shapes.)

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, ceil(height / s), ceil(width / s), out_channels)`.

    Example: `residual_bottleneck(net, 3, 16, 64)` (three blocks, 16-channel bottleneck).
    """
    del reuse, scope
    fn = "residual_bottleneck"
    strides = _block_args(fn, incoming, nb_blocks, out_channels, downsample, downsample_strides)
    _count(fn, "bottleneck_size", bottleneck_size, 1)
    conv = _conv_args(bias, weights_init, bias_init, regularizer, weight_decay, trainable,
                      restore)
    resnet = incoming
    for i in range(nb_blocks):
        branch = batch_normalization(resnet) if batch_norm else resnet
        branch = activation_layer(branch, activation)
        branch = Conv2D(bottleneck_size, 1, strides, "valid", "linear", **conv)(branch)
        if batch_norm:
            branch = batch_normalization(branch)
        branch = activation_layer(branch, activation)
        branch = Conv2D(bottleneck_size, 3, 1, "same", "linear", **conv)(branch)
        branch = Conv2D(out_channels, 1, 1, "valid", activation, **conv)(branch)
        resnet = merge([branch, _shortcut(resnet, strides, strides, out_channels)],
                       "elemwise_sum")
        resnet = activation_layer(resnet, activation, name=name if i == nb_blocks - 1 else None)
    return resnet


def resnext_block(incoming: Tensor, nb_blocks: int, out_channels: int, cardinality: int,
                  downsample: bool = False, downsample_strides: int = 2,
                  activation: Fn = "relu", batch_norm: bool = True,
                  weights_init: Fn = "variance_scaling", regularizer: Fn | None = "L2",
                  weight_decay: float = 0.0001, bias: bool = True, bias_init: Fn = "zeros",
                  trainable: bool = True, restore: bool = True, reuse: bool = False,
                  scope: str | None = None, name: str | None = None) -> Tensor:
    """Adds `nb_blocks` ResNeXt blocks (Xie et al., 2016, Figure 3c, as tflearn builds them).

    `cardinality` (1, 2, 4, 8 or 32) sets the bottleneck width `b` (64, 40, 24, 14 or 4).
    Each block: 1x1 conv to `b` (strides, 'valid') → [batch norm] → activation →
    `grouped_conv_2d(cardinality, 3)` (depthwise, `b * cardinality` channels, no bias) →
    [batch norm] → activation → 1x1 conv to `out_channels` with `activation` → [batch norm],
    plus the shortcut (subsampled by a 1x1 average pool, zero-padded), then `activation`.

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, ceil(height / s), ceil(width / s), out_channels)`.

    Example: `resnext_block(net, 5, 16, 32)`.
    """
    del reuse, scope
    fn = "resnext_block"
    strides = _block_args(fn, incoming, nb_blocks, out_channels, downsample, downsample_strides)
    if isinstance(cardinality, bool) or not isinstance(cardinality, int) or \
            cardinality not in RESNEXT_BOTTLENECK:
        raise ValueError(f"{fn}: cardinality must be one of {sorted(RESNEXT_BOTTLENECK)} "
                         f"(tflearn's widths). Received: cardinality={cardinality!r}.")
    width = RESNEXT_BOTTLENECK[cardinality]
    conv = _conv_args(None, weights_init, bias_init, regularizer, weight_decay, trainable,
                      restore)

    def norm(t: Tensor) -> Tensor:
        return batch_normalization(t, trainable=trainable) if batch_norm else t

    resnext = incoming
    for i in range(nb_blocks):
        branch = Conv2D(width, 1, strides, "valid", "linear", bias, **conv)(resnext)
        branch = activation_layer(norm(branch), activation)
        branch = GroupedConv2D(cardinality, 3, 1, "same", "linear", False, **conv)(branch)
        branch = activation_layer(norm(branch), activation)
        branch = norm(Conv2D(out_channels, 1, 1, "valid", activation, bias, **conv)(branch))
        resnext = merge([branch, _shortcut(resnext, strides, 1, out_channels)], "elemwise_sum")
        resnext = activation_layer(resnext, activation,
                                   name=name if i == nb_blocks - 1 else None)
    return resnext


def densenet_block(incoming: Tensor, nb_layers: int, growth: int, bottleneck: bool = True,
                   downsample: bool = True, downsample_strides: int = 2,
                   activation: Fn = "relu", batch_norm: bool = True, dropout: bool = False,
                   dropout_keep_prob: float = 0.5, weights_init: Fn = "variance_scaling",
                   regularizer: Fn | None = "L2", weight_decay: float = 0.0001,
                   bias: bool = True, bias_init: Fn = "zeros", trainable: bool = True,
                   restore: bool = True, reuse: bool = False, scope: str | None = None,
                   name: str | None = None) -> Tensor:
    """Adds a DenseNet block (Huang et al., 2016, as tflearn builds it).

    Each of `nb_layers` layers: ([batch norm] → activation → 1x1 conv to `growth`, when
    `bottleneck`) → [batch norm] → activation → 3x3 conv to `growth`, then its output is
    concatenated before its input (channels grow by `growth`). A transition follows:
    [batch norm] → activation → 1x1 conv to `growth` → [dropout keeping `dropout_keep_prob`]
    → [2x2 average pool with `downsample_strides`, when `downsample`].

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, ceil(height / s), ceil(width / s), growth)` (s = 1 without
    `downsample`).

    Example: `densenet_block(net, 12, 12)`.
    """
    del reuse, scope
    fn = "densenet_block"
    _count(fn, "nb_layers", nb_layers, 0)
    _count(fn, "growth", growth, 1)
    _count(fn, "downsample_strides", downsample_strides, 1)
    _image_channels(fn, incoming)
    conv = _conv_args(bias, weights_init, bias_init, regularizer, weight_decay, trainable,
                      restore, activation="linear")

    def norm_act_conv(t: Tensor, size: int, last: bool = False) -> Tensor:
        t = batch_normalization(t) if batch_norm else t
        return Conv2D(growth, size, **conv, name=name if last else None)(
            activation_layer(t, activation))

    densenet = incoming
    for _ in range(nb_layers):
        new = norm_act_conv(densenet, 1) if bottleneck else densenet
        densenet = merge([norm_act_conv(new, 3), densenet], "concat", axis=3)
    # the transition; `name` names its last layer
    densenet = norm_act_conv(densenet, 1, last=not (dropout or downsample))
    if dropout:
        densenet = dropout_layer(densenet, keep_prob=dropout_keep_prob,
                                 name=None if downsample else name)
    if downsample:
        densenet = AvgPool2D(2, downsample_strides, name=name)(densenet)
    return densenet
