"""Weight penalties: TensorFlow's l2_loss convention (half the sum of squares) and L1."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from stackit import regularizers
from stackit.layers import Conv2D

W = np.random.default_rng(0).normal(size=(3, 4))


def test_l2_is_weight_decay_times_half_the_sum_of_squares():
    assert float(regularizers.L2(jnp.asarray(W), 0.01)) == pytest.approx(
        0.01 * np.sum(W**2) / 2, rel=1e-5)
    assert float(regularizers.L2(jnp.asarray(W))) == pytest.approx(0.001 * np.sum(W**2) / 2,
                                                                   rel=1e-5)


def test_l1_is_weight_decay_times_the_sum_of_absolute_values():
    assert float(regularizers.L1(jnp.asarray(W), 0.5)) == pytest.approx(
        0.5 * np.abs(W).sum(), rel=1e-5)


def test_get_is_case_insensitive_and_lists_valid_names():
    assert regularizers.get("L2") is regularizers.L2
    assert regularizers.get("l1") is regularizers.L1
    with pytest.raises(ValueError, match=r"Unknown regularizer 'L3'.*l1, l2"):
        regularizers.get("L3")

    def penalty(w, wd):
        return wd * jnp.max(jnp.abs(w))

    assert regularizers.get(penalty) is penalty


def test_a_layer_adds_its_penalty_on_w_only():
    layer = Conv2D(2, 2, regularizer="L1", weight_decay=0.1)
    w = np.random.default_rng(1).normal(size=(2, 2, 3, 2))
    params = {"W": jnp.asarray(w), "b": jnp.full((2,), 100.0)}
    assert float(layer.penalty(params)) == pytest.approx(0.1 * np.abs(w).sum(), rel=1e-5)
