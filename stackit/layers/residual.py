"""Residual blocks (He et al., 2016, pre-activation form), tflearn's `residual_block`.

Each block is `merge([branch, shortcut], 'elemwise_sum')`: the branch is
[batch norm →] activation → 3x3 conv (strides) → [batch norm →] activation → 3x3 conv, and the
shortcut is the identity, average-pooled when downsampling and zero-padded on the channel
axis when the block widens.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from stackit.layers.base import Layer, Tensor
from stackit.layers.convolution import avg_pool_2d, conv_2d
from stackit.layers.core import activation as activation_layer
from stackit.layers.merge_ops import merge
from stackit.layers.normalization import batch_normalization

__all__ = ["PadChannels", "residual_block"]


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


def residual_block(incoming: Tensor, nb_blocks: int, out_channels: int, downsample=False,
                   downsample_strides=2, activation="relu", batch_norm=True, bias=True,
                   weights_init="variance_scaling", bias_init="zeros", regularizer="L2",
                   weight_decay=0.0001, trainable=True, restore=True, reuse=False, scope=None,
                   name: str | None = None) -> Tensor:
    """Adds `nb_blocks` pre-activation residual blocks with `out_channels` filters (tflearn).

    As in tflearn, `downsample=True` makes every block of the call stride by
    `downsample_strides` (use `nb_blocks=1` for a single downsampling block).

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, new_height, new_width, out_channels)`.

    Raises:
        ValueError: If `out_channels - in_channels` is odd or negative (the shortcut pads the
            same number of zero channels on each side).
    """
    del reuse, scope
    if not isinstance(nb_blocks, int) or nb_blocks < 0:  # 0 blocks: the input unchanged
        raise ValueError(f"residual_block: nb_blocks must be an int >= 0. "
                         f"Received: nb_blocks={nb_blocks!r}.")
    shape = incoming.get_shape()
    if len(shape) != 4:
        raise ValueError("residual_block: expected a 4-D input (batch, height, width, channels)."
                         f" Received: shape={tuple(shape)}.")
    in_channels = shape[-1]
    strides = downsample_strides if downsample else 1
    conv_args = dict(activation="linear", bias=bias, weights_init=weights_init,
                     bias_init=bias_init, regularizer=regularizer, weight_decay=weight_decay,
                     trainable=trainable, restore=restore)
    resnet = incoming
    for _ in range(nb_blocks):
        branch = batch_normalization(resnet) if batch_norm else resnet
        branch = activation_layer(branch, activation)
        branch = conv_2d(branch, out_channels, 3, strides, "same", **conv_args)
        if batch_norm:
            branch = batch_normalization(branch)
        branch = activation_layer(branch, activation)
        branch = conv_2d(branch, out_channels, 3, 1, "same", **conv_args)
        shortcut = resnet
        if strides > 1:
            shortcut = avg_pool_2d(shortcut, strides, strides)
        if in_channels != out_channels:
            extra = out_channels - in_channels
            if extra < 0 or extra % 2:
                raise ValueError(
                    "residual_block: the shortcut widens by zero-padding the same number of "
                    "channels on each side, so out_channels - in_channels must be even and >= 0."
                    f" Received: in_channels={in_channels}, out_channels={out_channels}.")
            shortcut = PadChannels(extra // 2, extra // 2)(shortcut)
            in_channels = out_channels
        resnet = merge([branch, shortcut], "elemwise_sum", name=name if nb_blocks == 1 else None)
    return resnet
