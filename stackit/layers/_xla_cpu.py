"""2-D convolutions over few input channels, faster on XLA:CPU.

XLA:CPU's convolution kernel is slow when the input has one to three channels (the first layer
of a convnet on grayscale or RGB images): LeNet-5's first 5x5 convolution over 28x28x1 digits,
batch 128, takes 16 ms, a sixth of that as 25 shifted multiply-adds that XLA fuses into one
loop (`benchmarks/conv_profile.py`). `conv_2d` takes that path for the forward pass when the
window has at most `MAX_TERMS` weights per output channel; the gradients stay XLA's own (the
kernel's gradient is fast, and the input's is dropped for a first layer), through a custom VJP.
Elsewhere (GPUs, more channels, dilation, half precision: summing in bfloat16 would lose
precision) it is `lax.conv_general_dilated`.

Measured inside LeNet-5's compiled training step (batch 128, 2 cores): 14.1 ms against 18.5 ms
with XLA's convolution. Max pooling written the same way (the maximum of the window's strided
slices) runs forward and backward 10-40x faster than `reduce_window` alone, but inside the
step after this convolution it made the step slower (24 ms), so pools stay `reduce_window`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["conv_2d", "MAX_TERMS"]

#: Shifted multiply-adds per output value up to which the few-channel path is taken (measured:
#: 25 and 27 terms run 3-15x faster than XLA's kernel, 150 terms slower).
MAX_TERMS = 32
_DIMS = ("NHWC", "HWIO", "NHWC")


def conv_2d(x: jax.Array, w: jax.Array, strides: tuple[int, ...], padding: str,
            dilation: tuple[int, ...] = (1, 1)) -> jax.Array:
    """`lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilation)` for NHWC
    inputs and HWIO kernels, computed as shifted multiply-adds where that is faster."""
    kh, kw, channels, _ = w.shape
    if (jax.default_backend() == "cpu" and tuple(dilation) == (1, 1) and channels <= 3
            and kh * kw * channels <= MAX_TERMS and x.dtype == w.dtype == jnp.float32):
        return _shifted(x, w, tuple(strides), padding)
    return _xla(x, w, tuple(strides), padding, tuple(dilation))


def _xla(x, w, strides, padding, dilation=(1, 1)):
    return lax.conv_general_dilated(x, w, window_strides=strides, padding=padding,
                                    rhs_dilation=dilation, dimension_numbers=_DIMS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _shifted(x, w, strides, padding):
    """The sum over the window's offsets and input channels of a strided slice of the padded
    input times that offset's weights."""
    kh, kw, channels, _ = w.shape
    (top, bottom), (left, right) = lax.padtype_to_pads(x.shape[1:3], (kh, kw), strides, padding)
    xp = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    sh, sw = strides
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            for c in range(channels):
                window = lax.slice(xp, (0, i, j, c),
                                   (xp.shape[0], i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1,
                                    c + 1), (1, sh, sw, 1))
                term = window * w[i, j, c][None, None, None, :]
                out = term if out is None else out + term
    return out


def _shifted_forward(x, w, strides, padding):
    return _shifted(x, w, strides, padding), (x, w)


def _shifted_backward(strides, padding, residuals, grad):
    x, w = residuals
    _, vjp = jax.vjp(lambda x, w: _xla(x, w, strides, padding), x, w)
    return vjp(grad)


_shifted.defvjp(_shifted_forward, _shifted_backward)
