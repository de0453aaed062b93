"""Real-time data augmentation: random image transforms applied in training only.

tflearn's builder API: create a pipeline, add steps, hand it to `input_data`:

    img_aug = stackit.ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_crop([32, 32], padding=4)
    img_aug.add_random_rotation(max_angle=25.)
    net = stackit.input_data(shape=[None, 32, 32, 3], data_augmentation=img_aug)

The steps are pure JAX: they run on the device inside the compiled train step, drawing their
randomness from the step's PRNG key, independently for every sample. Images are batches
`(B, height, width, channels)` or `(B, height, width)`. No step changes the image shape, so
training and evaluation see the same shapes.

Interface used by the model (shapes exclude the batch axis; a leading `None` is dropped):

- `check(input_shape) -> None`: raises `ValueError` for settings the shape cannot take (a crop
  that is not the image size, 90-degree rotations of a non-square image, non-image input).
- `apply(x, key) -> x'`: pure and jittable; same shape and dtype out; the same key gives the
  same result.
- `get_config() -> dict` / `from_config(config)`: a JSON-able
  `{"type": "ImageAugmentation", "steps": [{"name": step, **arguments}, ...]}`.

Builders are mutable but hash and compare by identity, so they can sit in a frozen dataclass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.ndimage import map_coordinates

from stackit._pipeline import StepPipeline
from stackit._registry import configurable

__all__ = ["DataAugmentation", "ImageAugmentation", "rotate", "gaussian_blur"]


class DataAugmentation(StepPipeline):
    """A pipeline of random transforms, applied in order to training batches only.

    The base class holds the machinery (`check`, `apply`, configs); `ImageAugmentation` adds
    the image steps.
    """

    kind = "augmentation"

    def __init__(self):
        self._steps: list[dict] = []

    @classmethod
    def _family(cls):
        return (DataAugmentation, ImageAugmentation)

    def check(self, input_shape: Sequence[int | None]) -> None:
        """Checks that every step can augment samples of `input_shape` (no batch axis).

        Raises:
            ValueError: If a step's settings do not fit the shape.
        """
        shape = tuple(input_shape)
        if shape and shape[0] is None:
            shape = shape[1:]
        for step in self._steps:
            _CHECKS[step["name"]](type(self).__name__, shape, step)

    def apply(self, x: jax.Array, key: jax.Array) -> jax.Array:
        """Augments a batch `(B, *shape)` with randomness from `key`; pure and jittable."""
        x = jnp.asarray(x)
        if not self._steps:
            return x
        self.check(x.shape[1:])
        squeeze = x.ndim == 3
        out = x[..., None] if squeeze else x
        for step, step_key in zip(self._steps, jax.random.split(key, len(self._steps)),
                                  strict=True):
            args = {k: v for k, v in step.items() if k != "name"}
            out = _OPS[step["name"]](out, step_key, **args)
        return (out[..., 0] if squeeze else out).astype(x.dtype)

    def get_config(self) -> dict:
        """A JSON-able description of the pipeline."""
        return {"type": type(self).__name__, "steps": [dict(step) for step in self._steps]}



class ImageAugmentation(DataAugmentation):
    """Random image transforms for batches `(B, height, width[, channels])`, training only.

    Example:
        >>> img_aug = ImageAugmentation()
        >>> img_aug.add_random_flip_leftright()
        >>> img_aug.add_random_crop([32, 32], padding=4)
    """

    _saved_steps = frozenset({"random_crop", "random_flip_leftright", "random_flip_updown",
                              "random_90degrees_rotation", "random_rotation", "random_blur"})

    def add_random_crop(self, crop_shape: Sequence[int], padding: int | None = None) -> None:
        """Pads each image with `padding` zeros on every side, then crops it back at a random
        offset (uniform per sample), i.e. a random shift of up to `padding` pixels.

        Args:
            crop_shape: `(height, width)` of the crop. It must be the image's own size, so that
                training and evaluation see the same shape (checked by `check`).
            padding: Zeros added on each side before cropping; `None` or 0 for none.
                Defaults to `None`.
        """
        if (not isinstance(crop_shape, (list, tuple)) or len(crop_shape) != 2
                or not all(_is_int(d) and d > 0 for d in crop_shape)):
            raise ValueError("crop_shape must be (height, width), two positive ints. "
                             f"Received: crop_shape={crop_shape!r}.")
        if padding is not None and not (_is_int(padding) and padding >= 0):
            raise ValueError(f"padding must be None or an int >= 0. Received: padding={padding!r}.")
        self._steps.append({"name": "random_crop", "crop_shape": [int(d) for d in crop_shape],
                            "padding": None if padding is None else int(padding)})

    def add_random_flip_leftright(self) -> None:
        """Mirrors each image left to right with probability 1/2."""
        self._steps.append({"name": "random_flip_leftright"})

    def add_random_flip_updown(self) -> None:
        """Mirrors each image upside down with probability 1/2."""
        self._steps.append({"name": "random_flip_updown"})

    def add_random_90degrees_rotation(self, rotations: Sequence[int] = (0, 1, 2, 3)) -> None:
        """Rotates each image by `k` quarter turns (counter-clockwise, as `np.rot90`), `k`
        drawn uniformly from `rotations`. Odd `k` needs square images.

        Args:
            rotations: The allowed numbers of quarter turns. Defaults to `(0, 1, 2, 3)`.
        """
        if (not isinstance(rotations, (list, tuple)) or not rotations
                or not all(_is_int(k) for k in rotations)):
            raise ValueError("rotations must be a non-empty list of ints (quarter turns). "
                             f"Received: rotations={rotations!r}.")
        self._steps.append({"name": "random_90degrees_rotation",
                            "rotations": [int(k) for k in rotations]})

    def add_random_rotation(self, max_angle: float = 20.0) -> None:
        """Rotates a random half of the images by an angle drawn uniformly in
        `[-max_angle, max_angle]` degrees, about the image centre (bilinear, zero fill).

        Args:
            max_angle: Largest rotation, in degrees, >= 0. Defaults to `20.0`.
        """
        self._steps.append({"name": "random_rotation",
                            "max_angle": _non_negative(max_angle, "max_angle")})

    def add_random_blur(self, sigma_max: float = 5.0) -> None:
        """Blurs a random half of the images with a gaussian filter of standard deviation drawn
        uniformly in `[0, sigma_max]` pixels (kernel radius `ceil(4 * sigma_max)`, mirrored
        edges as scipy's `gaussian_filter`), the same over height and width.

        Args:
            sigma_max: Largest standard deviation, in pixels, >= 0. Defaults to `5.0`.
        """
        self._steps.append({"name": "random_blur",
                            "sigma_max": _non_negative(sigma_max, "sigma_max")})


# -------- argument and shape checks --------

def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _non_negative(value: Any, arg: str) -> float:
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number))
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{arg} must be a finite number >= 0. Received: {arg}={value!r}.")
    return float(value)


def _check_image(owner: str, shape: tuple, step: dict) -> None:
    if len(shape) not in (2, 3):
        raise ValueError(f"{owner}.add_{step['name']}: expected images, samples of shape "
                         f"(height, width, channels) or (height, width). Received: "
                         f"input_shape={shape}.")


def _check_crop(owner: str, shape: tuple, step: dict) -> None:
    _check_image(owner, shape, step)
    if tuple(step["crop_shape"]) != tuple(shape[:2]):
        raise ValueError(
            f"{owner}.add_random_crop: crop_shape must equal the image's (height, width) = "
            f"{tuple(shape[:2])}, so that training and evaluation see the same shape; use "
            "`padding` for random shifts, or crop/resize the data before fit() for smaller "
            f"images. Received: crop_shape={tuple(step['crop_shape'])}.")


def _check_rot90(owner: str, shape: tuple, step: dict) -> None:
    _check_image(owner, shape, step)
    if shape[0] != shape[1] and any(k % 2 for k in step["rotations"]):
        raise ValueError(
            f"{owner}.add_random_90degrees_rotation: quarter turns of a non-square image "
            "change its shape; use square images or rotations=[0, 2]. Received: "
            f"input_shape={shape}, rotations={step['rotations']}.")


_CHECKS = {"random_crop": _check_crop, "random_flip_leftright": _check_image,
           "random_flip_updown": _check_image, "random_90degrees_rotation": _check_rot90,
           "random_rotation": _check_image, "random_blur": _check_image}


# -------- the transforms: x is (B, H, W, C) --------

def _per_sample(mask: jax.Array, new: jax.Array, old: jax.Array) -> jax.Array:
    return jnp.where(mask.reshape(-1, 1, 1, 1), new, old)


def _as_float(x: jax.Array) -> jax.Array:
    """At least float32: pixel coordinates and kernel weights need the precision."""
    if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype.itemsize >= 4:
        return x
    return x.astype(jnp.float32)


def _back(out: jax.Array, like: jax.Array) -> jax.Array:
    if not jnp.issubdtype(like.dtype, jnp.floating):
        out = jnp.round(out)
    return out.astype(like.dtype)


def _flip(axis: int):
    def op(x, key):
        flip = jax.random.bernoulli(key, 0.5, (x.shape[0],))
        return _per_sample(flip, jnp.flip(x, axis=axis), x)
    return op


def _random_crop(x, key, crop_shape, padding):
    del crop_shape  # equal to the image size (checked)
    if not padding:
        return x
    b, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    offsets = jax.random.randint(key, (2, b), 0, 2 * padding + 1)

    def crop(img, top, left):
        return jax.lax.dynamic_slice(img, (top, left, 0), (h, w, c))
    return jax.vmap(crop)(padded, offsets[0], offsets[1])


def _random_90degrees_rotation(x, key, rotations):
    turns = jnp.asarray([k % 4 for k in rotations], jnp.int32)
    chosen = turns[jax.random.randint(key, (x.shape[0],), 0, len(rotations))]
    out = x
    for k in sorted({k % 4 for k in rotations} - {0}):
        out = _per_sample(chosen == k, jnp.rot90(x, k, axes=(1, 2)), out)
    return out


def rotate(x: jax.Array, angles: jax.Array) -> jax.Array:
    """Rotates each image of `x` (B, H, W, C) counter-clockwise by `angles` (B,) degrees about
    its centre, with bilinear interpolation and zeros outside (scipy's `rotate`, `reshape=False`,
    `order=1`). 90 degrees gives `np.rot90`."""
    xf = _as_float(x)
    _, h, w, _ = x.shape
    ci, cj = (h - 1) / 2.0, (w - 1) / 2.0
    di = jnp.arange(h, dtype=xf.dtype).reshape(h, 1) - ci
    dj = jnp.arange(w, dtype=xf.dtype).reshape(1, w) - cj

    def one(img, angle):
        theta = jnp.deg2rad(angle).astype(xf.dtype)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        rows = cos * di + sin * dj + ci
        cols = cos * dj - sin * di + cj
        def channel(ch):
            return map_coordinates(ch, [rows, cols], order=1, mode="constant", cval=0.0)
        return jax.vmap(channel, in_axes=2, out_axes=2)(img)
    return _back(jax.vmap(one)(xf, angles), x)


def _random_rotation(x, key, max_angle):
    k_apply, k_angle = jax.random.split(key)
    b = x.shape[0]
    angles = jax.random.uniform(k_angle, (b,), minval=-max_angle, maxval=max_angle)
    return _per_sample(jax.random.bernoulli(k_apply, 0.5, (b,)), rotate(x, angles), x)


def _reflect_indices(n: int, radius: int) -> np.ndarray:
    """Indices of `n` values extended by `radius` on each side, mirrored as `d c b a | a b c d`."""
    m = np.mod(np.arange(-radius, n + radius), 2 * n)
    return np.where(m < n, m, 2 * n - 1 - m)


def _blur_matrices(weights: jax.Array, n: int, radius: int) -> jax.Array:
    """Per-sample (n, n) matrices applying the kernels `weights` (B, 2r+1) along an axis of
    length `n`, mirrored edges folded in: `M[b, i, j] = sum of weights[b, k] with
    reflect(i + k - r) = j`."""
    taps = np.arange(2 * radius + 1)
    source = _reflect_indices(n, radius)[np.arange(n).reshape(-1, 1) + taps.reshape(1, -1)]
    picks = jnp.asarray(source).reshape(n, -1, 1) == jnp.arange(n).reshape(1, 1, n)
    return jnp.einsum("bk,ikj->bij", weights, picks.astype(weights.dtype),
                      precision=jax.lax.Precision.HIGHEST)


def gaussian_blur(x: jax.Array, sigmas: jax.Array, radius: int) -> jax.Array:
    """Blurs each image of `x` (B, H, W, C) with a gaussian of std `sigmas` (B,) pixels over
    height and width, `2 * radius + 1` taps with mirrored edges (scipy's `gaussian_filter`,
    `mode='reflect'`). Separable: one small matrix product per axis, so it traces once and is
    fast on CPU and GPU alike. A std of 0 leaves the image as is."""
    xf = _as_float(x)
    b, h, w, _ = x.shape
    taps = jnp.arange(-radius, radius + 1, dtype=xf.dtype).reshape(1, -1)
    scale = jnp.maximum(sigmas.astype(xf.dtype), 1e-3).reshape(b, 1)
    weights = jnp.exp(-0.5 * (taps / scale) ** 2)
    weights = weights / weights.sum(axis=1, keepdims=True)  # (B, 2r+1)
    highest = jax.lax.Precision.HIGHEST
    y = jnp.einsum("bij,bjwc->biwc", _blur_matrices(weights, h, radius), xf, precision=highest)
    y = jnp.einsum("bij,bhjc->bhic", _blur_matrices(weights, w, radius), y, precision=highest)
    return _back(y, x)


def _random_blur(x, key, sigma_max):
    k_apply, k_sigma = jax.random.split(key)
    b = x.shape[0]
    sigmas = jax.random.uniform(k_sigma, (b,), minval=0.0, maxval=sigma_max)
    blurred = gaussian_blur(x, sigmas, max(1, math.ceil(4.0 * sigma_max)))
    return _per_sample(jax.random.bernoulli(k_apply, 0.5, (b,)), blurred, x)


_OPS = {"random_crop": _random_crop, "random_flip_leftright": _flip(2),
        "random_flip_updown": _flip(1), "random_90degrees_rotation": _random_90degrees_rotation,
        "random_rotation": _random_rotation, "random_blur": _random_blur}


for _cls in (DataAugmentation, ImageAugmentation):
    configurable(_cls)
