"""Every loss against numpy formulas (TensorFlow's, as tflearn calls them)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit import losses, objectives

RNG = np.random.default_rng(0)
N, C = 6, 4


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def one_hot(labels, n):
    return np.eye(n)[labels]


def np_sigmoid_xent(x, z):
    """TensorFlow's sigmoid_cross_entropy_with_logits."""
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def np_weighted_xent(x, z, q):
    """TensorFlow's weighted_cross_entropy_with_logits."""
    l_ = 1 + (q - 1) * z
    return (1 - z) * x + l_ * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))


@pytest.fixture
def data():
    logits = RNG.normal(size=(N, C)) * 2
    labels = one_hot(RNG.integers(0, C, N), C)
    return logits, labels


def _per_sample(fn, *args):
    out = np.asarray(fn(*(jnp.asarray(a, jnp.float32) for a in args)))
    assert out.shape == (args[0].shape[0],)
    return out


def test_categorical_crossentropy_takes_probabilities(data):
    logits, y = data
    p = np_softmax(logits)
    got = _per_sample(losses.categorical_crossentropy, p, y)
    np.testing.assert_allclose(got, -np.sum(y * np.log(p), axis=-1), rtol=1e-5)
    # Unnormalized scores are renormalized, and zeros are clipped (no inf), as tflearn does.
    scores = np.abs(logits)
    scores[0, :] = 0.0
    scores[0, 1] = 1.0
    want = -np.sum(y * np.log(np.clip(scores / scores.sum(-1, keepdims=True), 1e-10, 1)), -1)
    np.testing.assert_allclose(_per_sample(losses.categorical_crossentropy, scores, y), want,
                               rtol=1e-5)


def test_softmax_categorical_crossentropy_takes_logits(data):
    logits, y = data
    got = _per_sample(losses.softmax_categorical_crossentropy, logits, y)
    np.testing.assert_allclose(got, -np.sum(y * np.log(np_softmax(logits)), -1), rtol=1e-5)
    huge = logits * 1000   # stable from logits: finite where softmax underflows
    assert np.isfinite(_per_sample(losses.softmax_categorical_crossentropy, huge, y)).all()


@pytest.mark.parametrize("shape", [(N, 1), (N, 3)])
def test_binary_crossentropy_takes_logits(shape):
    x, z = RNG.normal(size=shape) * 3, RNG.integers(0, 2, shape).astype(float)
    got = _per_sample(losses.binary_crossentropy, x, z)
    np.testing.assert_allclose(got, np_sigmoid_xent(x, z).mean(-1), rtol=1e-5)
    big = np.array([[100.0], [-100.0]])
    np.testing.assert_allclose(_per_sample(losses.binary_crossentropy, big, np.array([[0.], [1.]])),
                               [100.0, 100.0], rtol=1e-5)


@pytest.mark.parametrize("weight", [1.0, 3.0, 0.25])
def test_weighted_crossentropy_takes_logits(weight):
    x, z = RNG.normal(size=(N, 3)) * 3, RNG.integers(0, 2, (N, 3)).astype(float)
    got = np.asarray(losses.weighted_crossentropy(jnp.asarray(x, jnp.float32),
                                                  jnp.asarray(z, jnp.float32), weight))
    np.testing.assert_allclose(got, np_weighted_xent(x, z, weight).mean(-1), rtol=1e-5,
                               atol=1e-6)


def test_mean_square_and_hinge(data):
    pred, _ = data
    target = RNG.normal(size=(N, C))
    np.testing.assert_allclose(_per_sample(losses.mean_square, pred, target),
                               ((pred - target) ** 2).mean(-1), rtol=1e-5)
    sign = np.where(RNG.random((N, C)) > 0.5, 1.0, -1.0)
    np.testing.assert_allclose(_per_sample(losses.hinge_loss, pred, sign),
                               np.maximum(1 - sign * pred, 0).mean(-1), rtol=1e-5)


def test_batch_mean_of_per_sample_losses_is_tflearns_reduce_mean():
    pred, target = RNG.normal(size=(N, 2, 3)), RNG.normal(size=(N, 2, 3))
    got = _per_sample(losses.mean_square, pred, target)
    np.testing.assert_allclose(got.mean(), ((pred - target) ** 2).mean(), rtol=1e-5)


def test_categorical_losses_on_nd_outputs_give_one_value_per_sample():
    logits = RNG.normal(size=(N, 2, 3, C))
    y = one_hot(RNG.integers(0, C, (N, 2, 3)), C)
    per_pixel = -np.sum(y * np.log(np_softmax(logits)), -1)
    for fn, pred in ((losses.softmax_categorical_crossentropy, logits),
                     (losses.categorical_crossentropy, np_softmax(logits))):
        got = _per_sample(fn, pred, y)
        np.testing.assert_allclose(got, per_pixel.mean(axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "softmax_categorical_crossentropy",
                                  "binary_crossentropy", "weighted_crossentropy", "mean_square",
                                  "hinge_loss"])
def test_get_by_name(name):
    loss = losses.get(name)
    assert isinstance(loss, losses.Loss)
    assert loss.fn is getattr(losses, name)
    assert losses.get(name.upper()) is loss
    assert losses.get(loss) is loss
    assert objectives is losses   # tflearn's module name


def test_which_losses_take_logits():
    assert losses.get("softmax_categorical_crossentropy").logits_of == "softmax"
    assert losses.get("binary_crossentropy").logits_of == "sigmoid"
    assert losses.get("weighted_crossentropy").logits_of == "sigmoid"
    assert losses.get("mean_square").logits_of is None
    cce = losses.get("categorical_crossentropy")
    assert cce.logits_of is None and cce.stable_activation == "softmax" and cce.categorical


def test_stable_form_of_categorical_crossentropy_agrees_with_it(data):
    logits, y = data
    cce = losses.get("categorical_crossentropy")
    p = jax.nn.softmax(jnp.asarray(logits, jnp.float32))
    np.testing.assert_allclose(cce.stable_fn(jnp.asarray(logits, jnp.float32), jnp.asarray(y)),
                               cce.fn(p, jnp.asarray(y)), rtol=1e-5)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown loss 'mse'.*categorical_crossentropy.*"
                                         r"hinge_loss.*mean_square"):
        losses.get("mse")
    with pytest.raises(TypeError, match="loss"):
        losses.get(3)


def test_custom_callable_is_evaluated_per_sample(data):
    pred, target = data

    def mean_abs(y_pred, y_true):   # tflearn style: returns the batch mean
        return jnp.mean(jnp.abs(y_pred - y_true))

    loss = losses.get(mean_abs)
    assert loss.logits_of is None and loss.fn.__name__ == "mean_abs"
    got = _per_sample(loss.fn, pred, target)
    np.testing.assert_allclose(got, np.abs(pred - target).mean(-1), rtol=1e-5)
    # Padded samples can therefore be masked out: the masked mean is the mean over real ones.
    mask = np.array([1, 1, 1, 1, 0, 0], np.float32)
    np.testing.assert_allclose((got * mask).sum() / mask.sum(),
                               np.abs(pred[:4] - target[:4]).mean(), rtol=1e-5)
    jitted = jax.jit(loss.fn)(jnp.asarray(pred, jnp.float32), jnp.asarray(target, jnp.float32))
    np.testing.assert_allclose(np.asarray(jitted), got, rtol=1e-6)
