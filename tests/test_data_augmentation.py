"""Tests for stackit.data_augmentation against plain numpy references."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit.data_augmentation import (
    DataAugmentation,
    ImageAugmentation,
    gaussian_blur,
    rotate,
)


@pytest.fixture
def batch():
    return np.random.default_rng(0).normal(size=(200, 8, 8, 3)).astype(np.float32)


def _augment(aug, x, key):
    return np.asarray(jax.jit(aug.apply)(jnp.asarray(x), key))


@pytest.mark.parametrize("method, flip", [("add_random_flip_leftright", np.fliplr),
                                          ("add_random_flip_updown", np.flipud)])
def test_random_flips(batch, key, method, flip):
    aug = ImageAugmentation()
    getattr(aug, method)()
    out = _augment(aug, batch, key)
    flipped = [np.array_equal(o, flip(x)) for o, x in zip(out, batch, strict=True)]
    same = [np.array_equal(o, x) for o, x in zip(out, batch, strict=True)]
    assert all(f != s for f, s in zip(flipped, same, strict=True))  # exactly one of the two
    assert 70 <= sum(flipped) <= 130


def _offsets(out, x, padding):
    h, w = x.shape[:2]
    padded = np.pad(x, ((padding, padding), (padding, padding), (0, 0)))
    return [(i, j) for i in range(2 * padding + 1) for j in range(2 * padding + 1)
            if np.array_equal(out, padded[i:i + h, j:j + w])]


def test_random_crop_is_a_shifted_window(batch, key):
    aug = ImageAugmentation()
    aug.add_random_crop([8, 8], padding=2)
    out = _augment(aug, batch[:60], key)
    assert out.shape == (60, 8, 8, 3)
    found = [_offsets(o, x, 2) for o, x in zip(out, batch[:60], strict=True)]
    assert all(found)
    assert len({f[0] for f in found}) > 10  # the offsets vary across samples


def test_random_crop_without_padding_is_identity(batch, key):
    aug = ImageAugmentation()
    aug.add_random_crop((8, 8))
    np.testing.assert_array_equal(_augment(aug, batch[:4], key), batch[:4])


def test_random_90degrees_rotation(batch, key):
    aug = ImageAugmentation()
    aug.add_random_90degrees_rotation()
    out = _augment(aug, batch, key)
    turns = [[k for k in range(4) if np.array_equal(o, np.rot90(x, k))]
             for o, x in zip(out, batch, strict=True)]
    assert all(len(t) == 1 for t in turns)
    assert {t[0] for t in turns} == {0, 1, 2, 3}
    once = ImageAugmentation()
    once.add_random_90degrees_rotation(rotations=[1])
    np.testing.assert_array_equal(_augment(once, batch[:5], key),
                                  np.rot90(batch[:5], 1, axes=(1, 2)))


def test_half_turns_of_non_square_images(key):
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6, 1)
    aug = ImageAugmentation()
    aug.add_random_90degrees_rotation(rotations=[2])
    np.testing.assert_array_equal(_augment(aug, x, key), np.rot90(x, 2, axes=(1, 2)))
    aug.add_random_90degrees_rotation(rotations=[0, 1])
    with pytest.raises(ValueError, match="non-square"):
        aug.check((None, 4, 6, 1))


def _bilinear_rotate(img, degrees):
    """Independent numpy reference: counter-clockwise rotation about the centre, zero fill."""
    h, w = img.shape
    theta = np.deg2rad(degrees)
    i, j = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    r = np.cos(theta) * i + np.sin(theta) * j + (h - 1) / 2
    c = np.cos(theta) * j - np.sin(theta) * i + (w - 1) / 2
    r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
    out = np.zeros((h, w))
    for dr in (0, 1):
        for dc in (0, 1):
            rr, cc = r0 + dr, c0 + dc
            weight = (1 - np.abs(r - rr)) * (1 - np.abs(c - cc))
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            out += np.where(inside, weight * img[rr.clip(0, h - 1), cc.clip(0, w - 1)], 0.0)
    return out


def test_rotate_matches_references(batch):
    x = batch[:3]
    quarter = np.asarray(rotate(jnp.asarray(x), jnp.full((3,), 90.0)))
    np.testing.assert_allclose(quarter, np.rot90(x, 1, axes=(1, 2)), atol=1e-4)
    odd = np.random.default_rng(2).normal(size=(2, 7, 10, 1)).astype(np.float32)
    out = np.asarray(jax.jit(rotate)(jnp.asarray(odd), jnp.array([30.0, -65.0])))
    for o, img, angle in zip(out, odd, (30.0, -65.0), strict=True):
        np.testing.assert_allclose(o[..., 0], _bilinear_rotate(img[..., 0], angle), atol=1e-4)


def test_random_rotation_rotates_about_half(batch, key):
    aug = ImageAugmentation()
    aug.add_random_rotation(max_angle=25.0)
    out = _augment(aug, batch, key)
    unchanged = [np.array_equal(o, x) for o, x in zip(out, batch, strict=True)]
    assert 70 <= sum(unchanged) <= 130


def _numpy_blur(img, sigma, radius):
    t = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * img.ndim
        pad[axis] = (radius, radius)
        p = np.pad(img, pad, mode="symmetric")
        n = img.shape[axis]
        img = sum(k[i] * np.take(p, np.arange(i, i + n), axis=axis) for i in range(len(k)))
    return img


def test_gaussian_blur(batch):
    x = batch[:2]
    out = np.asarray(jax.jit(gaussian_blur, static_argnums=2)(x, jnp.array([1.5, 0.0]), 6))
    np.testing.assert_allclose(out[0], _numpy_blur(x[0].astype(np.float64), 1.5, 6), atol=1e-5)
    np.testing.assert_allclose(out[1], x[1], atol=1e-6)  # sigma 0: unchanged
    const = np.full((2, 5, 5, 1), 3.0, np.float32)  # radius larger than the image
    np.testing.assert_allclose(gaussian_blur(const, jnp.array([4.0, 9.0]), 20), 3.0, rtol=1e-6)


def test_random_blur(batch, key):
    aug = ImageAugmentation()
    aug.add_random_blur(sigma_max=3.0)
    out = _augment(aug, batch, key)
    unchanged = np.array([np.array_equal(o, x) for o, x in zip(out, batch, strict=True)])
    assert 70 <= unchanged.sum() <= 130
    assert out[~unchanged].var() < 0.7 * batch[~unchanged].var()
    const = np.full((20, 8, 8, 3), 2.0, np.float32)
    np.testing.assert_allclose(_augment(aug, const, key), 2.0, rtol=1e-6)


def _everything():
    aug = ImageAugmentation()
    aug.add_random_flip_leftright()
    aug.add_random_flip_updown()
    aug.add_random_crop([8, 8], padding=3)
    aug.add_random_90degrees_rotation()
    aug.add_random_rotation(max_angle=30.0)
    aug.add_random_blur(sigma_max=1.0)
    return aug


def test_keys_determine_the_output(batch, key):
    aug = _everything()
    x = jnp.asarray(batch[:16])
    apply = jax.jit(aug.apply)
    first = apply(x, key)
    assert first.shape == x.shape and first.dtype == x.dtype
    np.testing.assert_array_equal(apply(x, key), first)
    assert not np.allclose(apply(x, jax.random.PRNGKey(1)), first)
    flip = ImageAugmentation()
    flip.add_random_flip_leftright()
    typed = jax.random.key(3)  # new-style typed keys work too, eagerly as well as under jit
    np.testing.assert_array_equal(flip.apply(x, typed), jax.jit(flip.apply)(x, typed))


def test_grayscale_and_integer_images(key):
    x = jnp.asarray(np.random.default_rng(0).integers(0, 255, (6, 8, 8)), jnp.uint8)
    out = jax.jit(_everything().apply)(x, key)
    assert out.shape == x.shape and out.dtype == jnp.uint8


def test_check_refuses_impossible_settings():
    crop = ImageAugmentation()
    crop.add_random_crop([24, 24], padding=4)
    with pytest.raises(ValueError, match=r"crop_shape must equal the image's \(height, width\)"):
        crop.check((None, 32, 32, 3))
    crop.check((24, 24, 3))
    flip = ImageAugmentation()
    flip.add_random_flip_leftright()
    with pytest.raises(ValueError, match="expected images"):
        flip.check((784,))
    with pytest.raises(ValueError, match="expected images"):
        flip.apply(jnp.zeros((2, 784)), jax.random.PRNGKey(0))
    ImageAugmentation().check((784,))  # no steps: any input


def test_bad_arguments():
    aug = ImageAugmentation()
    with pytest.raises(ValueError, match="crop_shape must be"):
        aug.add_random_crop(32)
    with pytest.raises(ValueError, match="padding must be"):
        aug.add_random_crop([32, 32], padding=-1)
    with pytest.raises(ValueError, match="rotations must be"):
        aug.add_random_90degrees_rotation(rotations=[])
    with pytest.raises(ValueError, match="max_angle must be"):
        aug.add_random_rotation(max_angle=-5)
    with pytest.raises(ValueError, match="sigma_max must be"):
        aug.add_random_blur(sigma_max="big")
    assert aug.steps == ()


def test_config_round_trip_and_repr():
    aug = _everything()
    config = json.loads(json.dumps(aug.get_config()))
    assert config["type"] == "ImageAugmentation"
    rebuilt = DataAugmentation.from_config(config)
    assert type(rebuilt) is ImageAugmentation and rebuilt.steps == aug.steps
    assert repr(rebuilt) == repr(aug)
    assert "random_crop(crop_shape=[8, 8], padding=3)" in repr(aug)
    with pytest.raises(ValueError, match="Unknown augmentation step"):
        ImageAugmentation.from_config({"type": "ImageAugmentation", "steps": [{"name": "zoom"}]})
    with pytest.raises(ValueError, match="Unknown augmentation type"):
        ImageAugmentation.from_config({"type": "DataPreprocessing", "steps": []})
    assert hash(aug) != hash(rebuilt) and aug != rebuilt  # identity semantics
