"""tflearn's `layers.conv` module: its functions, with tflearn's arguments and defaults.

Each function takes the incoming tensor first and adds the layer class of the same name
(`conv_1d` → `Conv1D`), so `from tflearn.layers.conv import ...` works as
`from stackit.layers.conv import ...`. `scope` is tflearn's name for the layer; `reuse=True`
applies the layer already built under that name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stackit.layers.base import Tensor
from stackit.layers.conv_transpose import (
    Conv2DTranspose,
    Conv3DTranspose,
    UpSample2D,
    UpSampling2D,
    Upscore,
    Upscore3D,
)
from stackit.layers.convolution import AtrousConv2D, Conv1D, Conv2D, Conv3D, GroupedConv2D
from stackit.layers.naming import tflearn_name
from stackit.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalAvgPool,
    GlobalMaxPool,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from stackit.layers.residual import (
    HighwayConv1D,
    HighwayConv2D,
    PadChannels,
    densenet_block,
    highway_conv_1d,
    highway_conv_2d,
    residual_block,
    residual_bottleneck,
    resnext_block,
)

__all__ = [
    # classes
    "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose", "AtrousConv2D",
    "GroupedConv2D", "HighwayConv1D", "HighwayConv2D", "UpSample2D", "UpSampling2D", "Upscore",
    "Upscore3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalAvgPool", "GlobalMaxPool", "PadChannels",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    # tflearn's functions
    "conv_1d", "conv_2d", "conv_3d", "conv_2d_transpose", "conv_3d_transpose", "atrous_conv_2d",
    "grouped_conv_2d", "max_pool_1d", "max_pool_2d", "max_pool_3d", "avg_pool_1d",
    "avg_pool_2d", "avg_pool_3d", "global_max_pool", "global_avg_pool", "upsample_2d",
    "deconv_2d", "upscore_layer", "upscore_layer3d", "highway_conv_1d", "highway_conv_2d",
    "residual_block", "residual_bottleneck", "resnext_block", "densenet_block",
    "shallow_residual_block", "deep_residual_block",
]

Size = int | Sequence[int]
Fn = str | Callable


def _weights(activation: Fn, bias: bool, weights_init: Fn, bias_init: Fn,
             regularizer: Fn | None, weight_decay: float, trainable: bool,
             restore: bool) -> dict[str, Any]:
    return dict(activation=activation, bias=bias, weights_init=weights_init,
                bias_init=bias_init, regularizer=regularizer, weight_decay=weight_decay,
                trainable=trainable, restore=restore)


def conv_1d(incoming: Tensor, nb_filter: int, filter_size: Size, strides: Size = 1,
            padding: str = "same", activation: Fn = "linear", bias: bool = True,
            weights_init: Fn = "uniform_scaling", bias_init: Fn = "zeros",
            regularizer: Fn | None = None, weight_decay: float = 0.001, trainable: bool = True,
            restore: bool = True, reuse: bool = False, scope: str | None = None,
            name: str | None = None) -> Tensor:
    """Adds a `Conv1D` layer: `(batch, steps, in)` → `(batch, new_steps, nb_filter)`.

    `W` has shape `(filter_size, in_channels, nb_filter)` (tflearn's is
    `(filter_size, 1, in_channels, nb_filter)`, the same values).
    """
    return Conv1D(filters=nb_filter, kernel_size=filter_size, strides=strides, padding=padding,
                  **_weights(activation, bias, weights_init, bias_init, regularizer,
                             weight_decay, trainable, restore),
                  name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def conv_2d(incoming: Tensor, nb_filter: int, filter_size: Size, strides: Size = 1,
            padding: str = "same", activation: Fn = "linear", bias: bool = True,
            weights_init: Fn = "uniform_scaling", bias_init: Fn = "zeros",
            regularizer: Fn | None = None, weight_decay: float = 0.001, trainable: bool = True,
            restore: bool = True, reuse: bool = False, scope: str | None = None,
            name: str | None = None) -> Tensor:
    """Adds a `Conv2D` layer (tflearn argument names). See `Conv2D`."""
    return Conv2D(filters=nb_filter, kernel_size=filter_size, strides=strides, padding=padding,
                  **_weights(activation, bias, weights_init, bias_init, regularizer,
                             weight_decay, trainable, restore),
                  name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def conv_3d(incoming: Tensor, nb_filter: int, filter_size: Size, strides: Size = 1,
            padding: str = "same", activation: Fn = "linear", bias: bool = True,
            weights_init: Fn = "uniform_scaling", bias_init: Fn = "zeros",
            regularizer: Fn | None = None, weight_decay: float = 0.001, trainable: bool = True,
            restore: bool = True, reuse: bool = False, scope: str | None = None,
            name: str | None = None) -> Tensor:
    """Adds a `Conv3D` layer: `(batch, d, h, w, in)` → `(batch, d', h', w', nb_filter)`."""
    return Conv3D(filters=nb_filter, kernel_size=filter_size, strides=strides, padding=padding,
                  **_weights(activation, bias, weights_init, bias_init, regularizer,
                             weight_decay, trainable, restore),
                  name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def conv_2d_transpose(incoming: Tensor, nb_filter: int, filter_size: Size,
                      output_shape: Sequence[int], strides: Size = 1, padding: str = "same",
                      activation: Fn = "linear", bias: bool = True,
                      weights_init: Fn = "uniform_scaling", bias_init: Fn = "zeros",
                      regularizer: Fn | None = None, weight_decay: float = 0.001,
                      trainable: bool = True, restore: bool = True, reuse: bool = False,
                      scope: str | None = None, name: str | None = None) -> Tensor:
    """Adds a `Conv2DTranspose` layer to `output_shape` `[new_h, new_w]` (or
    `[new_h, new_w, nb_filter]`); a convolution with these `strides` and `padding` must map
    that size back to the input's."""
    return Conv2DTranspose(filters=nb_filter, kernel_size=filter_size, strides=strides,
                           padding=padding, output_size=output_shape,
                           **_weights(activation, bias, weights_init, bias_init, regularizer,
                                      weight_decay, trainable, restore),
                           name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def conv_3d_transpose(incoming: Tensor, nb_filter: int, filter_size: Size,
                      output_shape: Sequence[int], strides: Size = 1, padding: str = "same",
                      activation: Fn = "linear", bias: bool = True,
                      weights_init: Fn = "uniform_scaling", bias_init: Fn = "zeros",
                      regularizer: Fn | None = None, weight_decay: float = 0.001,
                      trainable: bool = True, restore: bool = True, reuse: bool = False,
                      scope: str | None = None, name: str | None = None) -> Tensor:
    """Adds a `Conv3DTranspose` layer to `output_shape` `[d, h, w]` (or `[d, h, w, nb_filter]`)."""
    return Conv3DTranspose(filters=nb_filter, kernel_size=filter_size, strides=strides,
                           padding=padding, output_size=output_shape,
                           **_weights(activation, bias, weights_init, bias_init, regularizer,
                                      weight_decay, trainable, restore),
                           name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def atrous_conv_2d(incoming: Tensor, nb_filter: int, filter_size: Size, rate: Size = 1,
                   padding: str = "same", activation: Fn = "linear", bias: bool = True,
                   weights_init: Fn = "uniform_scaling", bias_init: Fn = "zeros",
                   regularizer: Fn | None = None, weight_decay: float = 0.001,
                   trainable: bool = True, restore: bool = True, reuse: bool = False,
                   scope: str | None = None, name: str | None = None) -> Tensor:
    """Adds an `AtrousConv2D` layer: a stride-1 convolution whose taps are `rate` apart."""
    return AtrousConv2D(filters=nb_filter, kernel_size=filter_size, dilation_rate=rate,
                        padding=padding,
                        **_weights(activation, bias, weights_init, bias_init, regularizer,
                                   weight_decay, trainable, restore),
                        name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def grouped_conv_2d(incoming: Tensor, channel_multiplier: int, filter_size: Size,
                    strides: Size = 1, padding: str = "same", activation: Fn = "linear",
                    bias: bool = False, weights_init: Fn = "uniform_scaling",
                    bias_init: Fn = "zeros", regularizer: Fn | None = None,
                    weight_decay: float = 0.001, trainable: bool = True, restore: bool = True,
                    reuse: bool = False, scope: str | None = None,
                    name: str | None = None) -> Tensor:
    """Adds a `GroupedConv2D` (depthwise) layer: `in_channels * channel_multiplier` outputs."""
    return GroupedConv2D(channel_multiplier=channel_multiplier, kernel_size=filter_size,
                         strides=strides, padding=padding,
                         **_weights(activation, bias, weights_init, bias_init, regularizer,
                                    weight_decay, trainable, restore),
                         name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def max_pool_1d(incoming: Tensor, kernel_size: Size, strides: Size | None = None,
                padding: str = "same", name: str | None = None) -> Tensor:
    """Adds a `MaxPool1D` layer; `strides` default to `kernel_size`."""
    return MaxPool1D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=tflearn_name(name))(incoming)


def avg_pool_1d(incoming: Tensor, kernel_size: Size, strides: Size | None = None,
                padding: str = "same", name: str | None = None) -> Tensor:
    """Adds an `AvgPool1D` layer; `strides` default to `kernel_size`."""
    return AvgPool1D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=tflearn_name(name))(incoming)


def max_pool_2d(incoming: Tensor, kernel_size: Size, strides: Size | None = None,
                padding: str = "same", name: str | None = None) -> Tensor:
    """Adds a `MaxPool2D` layer; `strides` default to `kernel_size`."""
    return MaxPool2D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=tflearn_name(name))(incoming)


def avg_pool_2d(incoming: Tensor, kernel_size: Size, strides: Size | None = None,
                padding: str = "same", name: str | None = None) -> Tensor:
    """Adds an `AvgPool2D` layer; `strides` default to `kernel_size`."""
    return AvgPool2D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=tflearn_name(name))(incoming)


def max_pool_3d(incoming: Tensor, kernel_size: Size, strides: Size = 1, padding: str = "same",
                name: str | None = None) -> Tensor:
    """Adds a `MaxPool3D` layer; as in tflearn, `strides` default to `1` (not the window)."""
    return MaxPool3D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=tflearn_name(name))(incoming)


def avg_pool_3d(incoming: Tensor, kernel_size: Size, strides: Size = 1, padding: str = "same",
                name: str | None = None) -> Tensor:
    """Adds an `AvgPool3D` layer; as in tflearn, `strides` default to `1` (not the window)."""
    return AvgPool3D(kernel_size=kernel_size, strides=strides, padding=padding,
                     name=tflearn_name(name))(incoming)


def global_avg_pool(incoming: Tensor, name: str | None = None) -> Tensor:
    """Adds a `GlobalAvgPool` layer: the mean over every spatial axis, `(batch, channels)`."""
    return GlobalAvgPool(name=tflearn_name(name))(incoming)


def global_max_pool(incoming: Tensor, name: str | None = None) -> Tensor:
    """Adds a `GlobalMaxPool` layer: the max over every spatial axis, `(batch, channels)`."""
    return GlobalMaxPool(name=tflearn_name(name))(incoming)


def upsample_2d(incoming: Tensor, kernel_size: Size, name: str | None = None) -> Tensor:
    """Adds an `UpSample2D` layer: nearest-neighbour upsampling by `kernel_size`."""
    return UpSample2D(size=kernel_size, name=tflearn_name(name))(incoming)


deconv_2d = upsample_2d  # tflearn's shortcut


def upscore_layer(incoming: Tensor, num_classes: int, shape: Sequence[int] | None = None,
                  kernel_size: Size = 4, strides: Size = 2, trainable: bool = True,
                  restore: bool = True, reuse: bool = False, scope: str | None = None,
                  name: str | None = None) -> Tensor:
    """Adds an `Upscore` layer: a bilinear-initialized transposed convolution to
    `num_classes` channels and `shape` `[height, width]`."""
    return Upscore(num_classes=num_classes, shape=shape, kernel_size=kernel_size,
                   strides=strides, trainable=trainable, restore=restore,
                   name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


def upscore_layer3d(incoming: Tensor, num_classes: int, shape: Sequence[int] | None = None,
                    kernel_size: Size = 4, strides: Size = 2, trainable: bool = True,
                    restore: bool = True, reuse: bool = False, scope: str | None = None,
                    name: str | None = None) -> Tensor:
    """Adds an `Upscore3D` layer (`upscore_layer` on volumes; `shape` holds 3 sizes)."""
    return Upscore3D(num_classes=num_classes, shape=shape, kernel_size=kernel_size,
                     strides=strides, trainable=trainable, restore=restore,
                     name=tflearn_name(name, scope, reuse))(incoming, reuse=reuse)


# tflearn's first names of the residual blocks (renamed in tflearn 0.2).
shallow_residual_block = residual_block
deep_residual_block = residual_bottleneck
