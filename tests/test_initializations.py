"""Initializers: distributions, bounds and fans as tflearn (TensorFlow 1) defines them."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit import initializations as inits

KEY = jax.random.PRNGKey(0)
CONV = (3, 3, 16, 32)       # fan_in = 144, fan_out = 288 (TensorFlow's convention)
DENSE = (200, 100)


def truncated_std_factor(limit: float = 2.0) -> float:
    """Std of a standard normal truncated to [-limit, limit]."""
    pdf = math.exp(-limit * limit / 2) / math.sqrt(2 * math.pi)
    return math.sqrt(1 - 2 * limit * pdf / math.erf(limit / math.sqrt(2)))


def sample(name_or_fn, shape):
    fn = inits.get(name_or_fn) if isinstance(name_or_fn, str) else name_or_fn
    w = fn(KEY, shape)
    assert w.shape == shape and w.dtype == jnp.float32
    return np.asarray(w, np.float64)


def test_zeros_and_ones():
    np.testing.assert_array_equal(sample("zeros", (3, 4)), np.zeros((3, 4)))
    np.testing.assert_array_equal(sample("ones", (5,)), np.ones(5))
    # tflearn spells the initializer `zeros()`: without a shape it returns itself.
    assert inits.zeros() is inits.zeros and inits.ones() is inits.ones


@pytest.mark.parametrize("shape", [CONV, DENSE])
def test_uniform_scaling_bounds_are_sqrt_3_over_fan_in(shape):
    w = sample("uniform_scaling", shape)
    limit = math.sqrt(3 / math.prod(shape[:-1]))
    assert np.abs(w).max() <= limit
    assert w.min() < -0.99 * limit and w.max() > 0.99 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.02 * limit
    w2 = sample(inits.uniform_scaling(factor=2.0), shape)
    np.testing.assert_allclose(w2, 2 * w, rtol=1e-6)


def test_truncated_normal_has_stddev_002_within_two_stddevs():
    w = sample("truncated_normal", DENSE)
    assert np.abs(w).max() <= 0.04
    assert abs(w.std() - 0.02 * truncated_std_factor()) < 0.0005
    assert abs(w.mean()) < 0.0005
    w = sample(inits.truncated_normal(mean=1.0, stddev=0.1), DENSE)
    assert w.min() >= 0.8 and w.max() <= 1.2 and abs(w.mean() - 1.0) < 0.002


def test_normal_has_stddev_002():
    w = sample("normal", DENSE)
    assert abs(w.std() - 0.02) < 0.0005 and abs(w.mean()) < 0.0005
    assert np.abs(w).max() > 0.06   # not truncated: 20k draws reach beyond 3 std


def test_uniform_defaults_to_zero_one():
    w = sample("uniform", DENSE)
    assert w.min() >= 0 and w.max() < 1 and abs(w.mean() - 0.5) < 0.01
    w = sample(inits.uniform(-0.5, 0.25), DENSE)
    assert w.min() >= -0.5 and w.max() < 0.25


@pytest.mark.parametrize("shape, fan_in, fan_out", [(CONV, 144, 288), (DENSE, 200, 100)])
def test_xavier_uniform_limit_is_sqrt_6_over_fan_in_plus_fan_out(shape, fan_in, fan_out):
    w = sample("xavier", shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.02 * limit


def test_xavier_normal_and_variance_scaling_follow_tensorflow():
    # TensorFlow 1 draws a normal truncated at 2 std with stddev sqrt(1.3 * factor / n).
    w = sample(inits.xavier(uniform=False), CONV)
    want = math.sqrt(1.3 * 2 / (144 + 288)) * truncated_std_factor()
    assert abs(w.std() / want - 1) < 0.03
    w = sample("variance_scaling", CONV)   # He: factor 2, FAN_IN
    want = math.sqrt(1.3 * 2 / 144) * truncated_std_factor()
    assert abs(w.std() / want - 1) < 0.03
    w = sample(inits.variance_scaling(1.0, "FAN_OUT", uniform=True), DENSE)
    assert np.abs(w).max() <= math.sqrt(3 / 100) and np.abs(w).max() > 0.99 * math.sqrt(3 / 100)


def test_variance_scaling_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match=r"mode.*FAN_IN.*FAN_OUT.*FAN_AVG"):
        inits.variance_scaling(mode="fan_sum")


def test_get_unknown_name_lists_the_valid_ones_and_passes_callables():
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot'.*truncated_normal.*"
                                         r"uniform_scaling.*xavier.*zeros"):
        inits.get("glorot")
    fn = jax.nn.initializers.he_normal()
    assert inits.get(fn) is fn
    assert inits.get("Xavier") is inits.get("xavier")
