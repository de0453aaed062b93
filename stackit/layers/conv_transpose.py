"""Upsampling layers: transposed convolutions, FCN's upscore, nearest-neighbour upsampling.

`Conv2DTranspose`/`Conv3DTranspose` share the N-d convolution of `convolution.py`; their `W`
has TensorFlow's transposed layout `(*kernel, out, in)`, so a transpose with `W` is exactly
the gradient (adjoint) of the forward convolution with the same `W`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from stackit.layers.base import Layer, Shape, as_float
from stackit.layers.convolution import (
    LAYOUTS,
    Size,
    _ConvND,
    dims,
    expect_spatial,
    is_int,
    ntuple,
    out_size,
)

__all__ = ["Conv2DTranspose", "Conv3DTranspose", "Upscore", "Upscore3D", "UpSample2D",
           "UpSampling2D"]


def conv_transpose(x: jax.Array, w: jax.Array, out_sizes: Shape, strides: Shape,
                   dilation: Shape, padding: str) -> jax.Array:
    """The adjoint of a forward convolution from `out_sizes` to `x`'s sizes with `w` of shape
    `(*kernel, out, in)` (TensorFlow's `conv2d_transpose`): a stride-1 correlation of `x`
    dilated by `strides` with the flipped kernel, padded so the output has `out_sizes`."""
    rank = len(out_sizes)
    pads = []
    for size_in, size_out, k, s, d in zip(x.shape[1:-1], out_sizes, w.shape[:rank], strides,
                                          dilation, strict=True):
        k_eff = (k - 1) * d + 1
        before = 0   # what the forward convolution pads before its input
        if padding.lower() == "same":
            before = max((size_in - 1) * s + k_eff - size_out, 0) // 2
        pads.append((k_eff - 1 - before, size_out + before - 1 - (size_in - 1) * s))
    return lax.conv_general_dilated(
        as_float(x), jnp.flip(w, axis=tuple(range(rank))), window_strides=(1,) * rank,
        padding=pads, lhs_dilation=strides, rhs_dilation=dilation,
        dimension_numbers=dims(rank, "OI"))


@dataclasses.dataclass(frozen=True)
class _ConvNDTranspose(_ConvND):
    """Transposed N-d convolution (the gradient of a convolution), `W` (*kernel, filters, in)."""

    output_size: Sequence[int] | None = None
    family = "conv_{}d_transpose"
    family_ranks = (2, 3)

    def check(self):
        super().check()
        self.target()

    def target(self) -> Shape | None:
        """`output_size` as spatial sizes (tflearn's `output_shape` may end with `filters`)."""
        size = self.output_size
        if size is None:
            return None
        if isinstance(size, (tuple, list)) and len(size) == self.rank + 1 and \
                size[-1] == self.filters:
            size = tuple(size[:-1])
        if not isinstance(size, (tuple, list)) or len(size) != self.rank or \
                not all(is_int(v) and v >= 1 for v in size):
            axes = ", ".join(f"new {a}" for a in LAYOUTS[self.rank].split(", ")[1:-1])
            raise self.error(f"output_shape must be [{axes}] or [{axes}, nb_filter] with "
                             f"nb_filter={self.filters}.", output_shape=size)
        return tuple(size)

    def weight_shape(self, in_channels):
        return (*self.kernel(), self.filters, in_channels)

    def spatial_out(self, input_shape):
        expect_spatial(self, input_shape, self.rank)
        sizes_in, kernel, strides = input_shape[:-1], self.effective_kernel(), self.stride()
        wanted = self.target()
        if wanted is None:   # Keras's sizes: n * stride ('same'), (n - 1) * stride + k
            same = self.padding.lower() == "same"
            return tuple(n * s if same else (n - 1) * s + k
                         for n, k, s in zip(sizes_in, kernel, strides, strict=True))
        back = tuple(out_size(o, k, s, self.padding)
                     for o, k, s in zip(wanted, kernel, strides, strict=True))
        if back != tuple(sizes_in):
            raise self.error(
                f"a {self.padding!r} convolution with these strides maps output_shape "
                f"{list(wanted)} to spatial sizes {list(back)}, not to the input's "
                f"{list(sizes_in)}; pick an output_shape that it maps back to the input.",
                output_shape=wanted, strides=strides, shape=(None, *input_shape))
        return wanted

    def convolve(self, w, x):
        sizes = self.spatial_out(tuple(x.shape[1:]))
        return conv_transpose(x, w, sizes, self.stride(), self.dilation(), self.padding)


_TRANSPOSE_DOC = """Args: as `{conv}`, plus
        output_size: Spatial output sizes (tflearn: `output_shape`, which may end with
            `filters`), or None for `n * stride` ('same') or `(n - 1) * stride + k` ('valid').
            Defaults to `None`.

    `W` has shape `(*kernel, filters, in_channels)`, as TensorFlow's transposed convolution.
    """


@dataclasses.dataclass(frozen=True)
class Conv2DTranspose(_ConvNDTranspose):
    __doc__ = """2-D transposed convolution ("deconvolution"): upsamples by `strides`.

    """ + _TRANSPOSE_DOC.format(conv="Conv2D") + """
    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, *output_size, filters)`.

    Example: `Conv2DTranspose(16, 3, strides=2)` or
    `conv_2d_transpose(net, 16, 3, output_shape=[28, 28], strides=2)`.
    """

    rank = 2
    default_name = "Conv2DTranspose"
    fn_name = "conv_2d_transpose"


@dataclasses.dataclass(frozen=True)
class Conv3DTranspose(_ConvNDTranspose):
    __doc__ = """3-D transposed convolution: upsamples volumes by `strides`.

    """ + _TRANSPOSE_DOC.format(conv="Conv3D") + """
    Input shape: `(batch, depth, height, width, in_channels)`.
    Output shape: `(batch, *output_size, filters)`.

    Example: `conv_3d_transpose(net, 4, 3, output_shape=[8, 8, 8], strides=2)`.
    """

    rank = 3
    default_name = "Conv3DTranspose"
    fn_name = "conv_3d_transpose"


def bilinear_filter(kernel: Shape, out_channels: int, in_channels: int) -> np.ndarray:
    """FCN's bilinear-upsampling kernel `(*kernel, out, in)`: channel `i` to channel `i`."""
    taps = []
    for k in kernel:
        f = math.ceil(k / 2)
        center = (2 * f - 1 - f % 2) / (2 * f)
        taps.append(1 - np.abs(np.arange(k) / f - center))
    window = taps[0]
    for tap in taps[1:]:
        window = np.multiply.outer(window, tap)
    w = np.zeros((*kernel, out_channels, in_channels), np.float32)
    for i in range(min(out_channels, in_channels)):
        w[..., i, i] = window
    return w


@dataclasses.dataclass(frozen=True)
class Upscore(Layer):
    """FCN's upscore layer (tflearn's `upscore_layer`): a 'same' transposed convolution to
    `num_classes` channels, its kernel `up_filter` starting as bilinear upsampling.

    Args:
        num_classes: Output channels.
        shape: Output spatial sizes `(height, width)` (or tflearn's documented
            `[batch, height, width, X]`); None for `(n - 1) * strides + 1`. Defaults to `None`.
        kernel_size: Kernel size, int or per axis. Defaults to `4`.
        strides: Upsampling factor, int or per axis. Defaults to `2`.

    Input shape: `(batch, height, width, in_channels)`.
    Output shape: `(batch, *shape, num_classes)`. Parameters: `up_filter`, no bias.

    Example: `upscore_layer(net, 21, shape=[64, 64], kernel_size=4, strides=2)`.
    """

    num_classes: int = 1
    shape: Sequence[int] | None = None
    kernel_size: Size = 4
    strides: Size = 2
    rank: ClassVar[int] = 2
    family: ClassVar[str] = ""
    family_ranks: ClassVar[tuple[int, ...]] = ()
    default_name = "Upscore"
    fn_name = "upscore_layer"
    cpu_scan_slow = True

    def check(self):
        if not is_int(self.num_classes) or self.num_classes < 1:
            raise self.error("num_classes must be a positive int.", num_classes=self.num_classes)
        ntuple(self.kernel_size, self.rank, "kernel_size", self)
        ntuple(self.strides, self.rank, "strides", self)
        self.target()

    def target(self) -> Shape | None:
        size = self.shape
        if isinstance(size, (tuple, list)) and len(size) == self.rank + 2:
            size = tuple(size[1:-1])   # tflearn's documented [batch, *sizes, X]
        if size is not None and (not isinstance(size, (tuple, list)) or len(size) != self.rank
                                 or not all(is_int(v) and v >= 1 for v in size)):
            raise self.error(f"shape must hold the {self.rank} output sizes (or "
                             f"[batch, *sizes, X]).", shape=self.shape)
        return None if size is None else tuple(size)

    def output_shape(self, input_shape):
        expect_spatial(self, input_shape, self.rank)
        strides = ntuple(self.strides, self.rank, "strides", self)
        wanted = self.target()
        if wanted is None:
            wanted = tuple((n - 1) * s + 1 for n, s in zip(input_shape[:-1], strides,
                                                           strict=True))
        back = tuple(out_size(o, 1, s, "same") for o, s in zip(wanted, strides, strict=True))
        if back != tuple(input_shape[:-1]):
            raise self.error(f"shape {list(wanted)} does not downsample by strides "
                             f"{list(strides)} to the input's sizes (ceil(shape / strides) "
                             f"must equal them).", shape=wanted, input_shape=(None, *input_shape))
        return (*wanted, self.num_classes)

    def init(self, key, input_shape):
        del key
        out = self.output_shape(tuple(input_shape))
        kernel = ntuple(self.kernel_size, self.rank, "kernel_size", self)
        w = bilinear_filter(kernel, self.num_classes, input_shape[-1])
        return {"up_filter": jnp.asarray(w)}, {}, out

    def apply(self, params, state, x, *, training, key):
        del training, key
        sizes = self.output_shape(tuple(x.shape[1:]))[:-1]
        strides = ntuple(self.strides, self.rank, "strides", self)
        y = conv_transpose(x, params["up_filter"], sizes, strides, (1,) * self.rank, "same")
        return y, state


@dataclasses.dataclass(frozen=True)
class Upscore3D(Upscore):
    """`Upscore` on volumes (tflearn's `upscore_layer3d`): `shape` holds 3 sizes.

    Input shape: `(batch, depth, height, width, in_channels)`.
    Output shape: `(batch, *shape, num_classes)`.
    """

    rank = 3
    default_name = "Upscore"
    fn_name = "upscore_layer3d"


@dataclasses.dataclass(frozen=True)
class UpSample2D(Layer):
    """Nearest-neighbour upsampling: repeats each row `size[0]` and each column `size[1]`
    times (tflearn's `upsample_2d`, Keras's `UpSampling2D`).

    Args:
        size: Factors, an int or `(h, w)` (tflearn: `kernel_size`). Defaults to `2`.

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, height * size[0], width * size[1], channels)`.

    Example: `UpSampling2D(2)` or `upsample_2d(net, 2)`.
    """

    size: Size = 2
    default_name = "UpSample2D"
    fn_name = "upsample_2d"
    family: ClassVar[str] = ""

    def check(self):
        ntuple(self.size, 2, "kernel_size", self)

    def output_shape(self, input_shape):
        expect_spatial(self, input_shape, 2)
        (a, b), (h, w, c) = ntuple(self.size, 2, "kernel_size", self), input_shape
        return (h * a, w * b, c)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        a, b = ntuple(self.size, 2, "kernel_size", self)
        return jnp.repeat(jnp.repeat(x, a, axis=1), b, axis=2), state


UpSampling2D = UpSample2D  # Keras's spelling
