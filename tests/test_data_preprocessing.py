"""Tests for stackit.data_preprocessing against plain numpy references."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit.data_preprocessing as dp
from stackit.data_preprocessing import DataPreprocessing, ImagePreprocessing


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 2.0, 0.5], np.float32).reshape(1, 1, 1, 3)
    shift = np.array([3.0, -1.0, 10.0], np.float32).reshape(1, 1, 1, 3)
    return (rng.normal(size=(64, 6, 5, 3)) * scale + shift).astype(np.float32)


def _shapes(state):
    return {k: (v.shape, v.dtype) for k, v in state.items()}


def test_featurewise_scalar_matches_numpy(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center()
    prep.add_featurewise_stdnorm()
    assert prep.needs_fit
    state = prep.fit_state(images)
    assert _shapes(state) == _shapes(prep.init_state((None, 6, 5, 3)))
    np.testing.assert_allclose(state["mean"], np.mean(images), rtol=1e-5)
    np.testing.assert_allclose(state["std"], np.std(images), rtol=1e-5)
    out = prep.apply(state, jnp.asarray(images))
    ref = (images - np.mean(images)) / np.std(images)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_featurewise_per_channel_matches_numpy(images, monkeypatch):
    monkeypatch.setattr(dp, "_CHUNK_VALUES", 200)  # several chunks: exercises the merging
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center(per_channel=True)
    prep.add_featurewise_stdnorm(per_channel=True)
    state = prep.fit_state(images)
    assert state["mean"].shape == (3,) and state["std"].shape == (3,)
    x64 = images.astype(np.float64)
    mean, std = x64.mean(axis=(0, 1, 2)), x64.std(axis=(0, 1, 2))
    np.testing.assert_allclose(state["mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(state["std"], std, rtol=1e-5)
    out = jax.jit(prep.apply)(state, jnp.asarray(images))
    ref = (images - mean.reshape(1, 1, 1, 3)) / std.reshape(1, 1, 1, 3)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_statistics_see_the_data_after_earlier_steps(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_stdnorm()
    prep.add_featurewise_zero_center()
    state = prep.fit_state(images)
    np.testing.assert_allclose(state["mean"], np.mean(images / np.std(images)), rtol=1e-5)
    out = np.asarray(prep.apply(state, jnp.asarray(images)))
    assert abs(out.mean()) < 1e-5


def test_given_statistics_are_used_as_is(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center(mean=[1.0, 2.0, 3.0], per_channel=True)
    prep.add_featurewise_stdnorm(std=np.float32(4.0))
    assert not prep.needs_fit
    state = prep.fit_state(images)
    assert _shapes(state) == _shapes(prep.init_state((6, 5, 3)))
    np.testing.assert_array_equal(state["mean"], [1.0, 2.0, 3.0])
    out = prep.apply(state, jnp.asarray(images))
    ref = (images - np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)) / 4.0
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_placeholders_are_neutral(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center(per_channel=True)
    prep.add_featurewise_stdnorm()
    state = prep.init_state((6, 5, 3))
    np.testing.assert_array_equal(prep.apply(state, jnp.asarray(images)), images)


def test_constant_data_gets_std_one():
    prep = DataPreprocessing()
    prep.add_featurewise_stdnorm()
    state = prep.fit_state(np.full((10, 4), 7.0, np.float32))
    assert float(state["std"]) == 1.0


def test_samplewise(images):
    prep = ImagePreprocessing()
    prep.add_samplewise_zero_center()
    prep.add_samplewise_stdnorm()
    assert not prep.needs_fit
    out = np.asarray(prep.apply(prep.init_state((6, 5, 3)), jnp.asarray(images)))
    flat = images.reshape(64, -1)
    ref = (flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)
    np.testing.assert_allclose(out.reshape(64, -1), ref, rtol=1e-4, atol=1e-5)


def test_samplewise_per_channel(images):
    prep = ImagePreprocessing()
    prep.add_samplewise_zero_center(per_channel=True)
    prep.add_samplewise_stdnorm(per_channel=True)
    out = np.asarray(jax.jit(prep.apply)({}, jnp.asarray(images)))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.0, rtol=1e-4)


def test_samplewise_stdnorm_leaves_constant_sample():
    prep = DataPreprocessing()
    prep.add_samplewise_stdnorm()
    x = np.stack([np.full(5, 3.0), np.arange(5.0)]).astype(np.float32)
    out = np.asarray(prep.apply({}, jnp.asarray(x)))
    np.testing.assert_array_equal(out[0], x[0])
    np.testing.assert_allclose(out[1], x[1] / x[1].std(), rtol=1e-6)


def test_zca_whitening():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(12, 12))
    X = (rng.normal(size=(2000, 12)) @ mix).astype(np.float32).reshape(2000, 2, 2, 3)
    prep = ImagePreprocessing()
    prep.add_zca_whitening()
    state = prep.fit_state(X)
    assert state["pc"].shape == (12, 12)
    out = np.asarray(prep.apply(state, jnp.asarray(X))).reshape(2000, 12).astype(np.float64)
    np.testing.assert_allclose(out.T @ out / 2000, np.eye(12), atol=1e-3)
    np.testing.assert_allclose(state["pc"], np.asarray(state["pc"]).T, atol=1e-4)  # symmetric


def test_zca_limits_and_given_pc():
    prep = ImagePreprocessing()
    prep.add_zca_whitening()
    with pytest.raises(ValueError, match="at most"):
        prep.init_state((128, 128, 3))
    given = ImagePreprocessing()
    given.add_zca_whitening(pc=np.eye(4) * 2)
    assert not given.needs_fit
    with pytest.raises(ValueError, match=r"\(12, 12\)"):
        given.init_state((2, 2, 3))
    x = jnp.ones((3, 2, 2, 1))
    np.testing.assert_allclose(given.apply(given.init_state((2, 2, 1)), x), 2 * np.ones(x.shape))


def test_custom_preprocessing(images):
    prep = ImagePreprocessing()
    prep.add_custom_preprocessing(lambda x: x * 2.0)
    prep.add_featurewise_zero_center()
    state = prep.fit_state(images)
    np.testing.assert_allclose(state["mean"], 2 * images.mean(), rtol=1e-5)
    out = jax.jit(prep.apply)(state, jnp.asarray(images))
    np.testing.assert_allclose(out, 2 * images - 2 * images.mean(), rtol=1e-4, atol=1e-4)
    with pytest.raises(TypeError, match="custom preprocessing function"):
        prep.get_config()


def test_custom_preprocessing_errors():
    prep = DataPreprocessing()
    prep.add_custom_preprocessing(lambda x: x[:, :2])
    with pytest.raises(ValueError, match="must keep the batch's shape"):
        prep.init_state((4,))
    untraceable = DataPreprocessing()
    untraceable.add_custom_preprocessing(lambda x: np.asarray(x) + 1)
    with pytest.raises(TypeError, match="could not be traced"):
        untraceable.init_state((4,))
    with pytest.raises(TypeError, match="callable"):
        DataPreprocessing().add_custom_preprocessing(3)


def test_image_normalization_and_dtypes():
    prep = ImagePreprocessing()
    prep.add_image_normalization()
    x = np.full((2, 3, 3, 1), 255, np.uint8)
    out = prep.apply({}, jnp.asarray(x))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, 1.0)
    assert prep.apply({}, jnp.ones((2, 3), jnp.bfloat16)).dtype == jnp.bfloat16


def test_fit_state_accepts_array_like(images):
    class Lazy:  # what an image preloader offers: len() and slicing along axis 0
        def __len__(self):
            return len(images)

        def __getitem__(self, index):
            return images[index]

    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center()
    np.testing.assert_allclose(prep.fit_state(Lazy())["mean"], images.mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="at least one"):
        prep.fit_state(images[:0])


def test_bad_arguments():
    prep = ImagePreprocessing()
    with pytest.raises(ValueError, match="std must be finite and > 0"):
        prep.add_featurewise_stdnorm(std=0.0)
    with pytest.raises(TypeError, match="per_channel must be True or False"):
        prep.add_featurewise_zero_center(per_channel="yes")
    with pytest.raises(TypeError, match="mean must be a number"):
        prep.add_featurewise_zero_center(mean="zero")
    prep.add_featurewise_zero_center(mean=[1.0, 2.0])
    with pytest.raises(ValueError, match="add_featurewise_zero_center was already called"):
        prep.add_featurewise_zero_center()
    with pytest.raises(ValueError, match=r"Received: mean.shape=\(2,\)"):
        prep.init_state((4, 4, 3))
    per_channel = DataPreprocessing()
    per_channel.add_samplewise_zero_center(per_channel=True)
    with pytest.raises(ValueError, match="channel axis"):
        per_channel.init_state((10,))
    with pytest.raises(ValueError, match="per-sample shape"):
        per_channel.init_state((10, 0))
    with pytest.raises(NotImplementedError, match="Crop the images beforehand"):
        prep.add_crop_center((2, 2))


def test_config_round_trip():
    prep = ImagePreprocessing()
    prep.add_image_normalization()
    prep.add_samplewise_zero_center(per_channel=True)
    prep.add_featurewise_zero_center(mean=[0.5, 0.25, 0.125], per_channel=True)
    prep.add_featurewise_stdnorm()
    config = json.loads(json.dumps(prep.get_config()))
    assert config["type"] == "ImagePreprocessing"
    rebuilt = DataPreprocessing.from_config(config)
    assert type(rebuilt) is ImagePreprocessing
    assert rebuilt.get_config() == prep.get_config()
    assert rebuilt.steps == prep.steps
    with pytest.raises(ValueError, match="Unknown preprocessing type"):
        DataPreprocessing.from_config({"type": "Nope", "steps": []})
    with pytest.raises(ValueError, match="Unknown preprocessing step 'image_normalization'"):
        DataPreprocessing.from_config({"type": "DataPreprocessing",
                                       "steps": [{"name": "image_normalization"}]})


def test_usable_in_frozen_dataclass_and_repr():
    @dataclasses.dataclass(frozen=True)
    class Holder:
        prep: object

    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center()
    first = Holder(prep)
    assert hash(first) == hash(Holder(prep)) and first == Holder(prep)
    assert Holder(prep) != Holder(ImagePreprocessing())
    assert repr(prep) == ("ImagePreprocessing([featurewise_zero_center(mean=None, "
                          "per_channel=False)])")
