"""Activations against numpy formulas (tflearn's definitions), and name lookup."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit import activations

X = np.linspace(-7.0, 7.0, 57).reshape(3, 19)
ERF = np.vectorize(math.erf)


def np_softplus(x):
    return np.log1p(np.exp(x))


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
REFERENCE = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
    "softplus": np_softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.1 * x),   # tflearn's alpha is 0.1
    "leakyrelu": lambda x: np.where(x >= 0, x, 0.1 * x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "crelu": lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)),
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "mish": lambda x: x * np.tanh(np_softplus(x)),
}


@pytest.fixture(scope="module")
def outputs():
    """Every registered activation on X, in one compiled call."""
    names = sorted(REFERENCE)
    run = jax.jit(lambda x: {name: activations.get(name)(x) for name in names})
    return {k: np.asarray(v) for k, v in run(jnp.asarray(X, jnp.float32)).items()}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_matches_numpy(outputs, name):
    np.testing.assert_allclose(outputs[name], REFERENCE[name](X), rtol=2e-5, atol=2e-6)


def test_every_registered_name_has_a_reference():
    with pytest.raises(ValueError) as err:
        activations.get("?")
    listed = str(err.value).split("Expected one of: ")[1].rstrip(".").split(", ")
    assert sorted(listed) == sorted(REFERENCE)


def test_names_are_case_insensitive_and_functions_are_public():
    assert activations.get("ReLU") is activations.relu
    for name in REFERENCE:
        if name != "leakyrelu":
            assert activations.get(name) is getattr(activations, name)
            assert name in activations.__all__


def test_leaky_relu_takes_alpha():
    np.testing.assert_allclose(np.asarray(activations.leaky_relu(jnp.asarray(X), 0.3)),
                               np.where(X >= 0, X, 0.3 * X), rtol=1e-6)


def test_none_is_linear_and_callables_pass_through():
    assert activations.get(None) is activations.linear

    def double(x):
        return 2 * x

    assert activations.get(double) is double


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown activation 'prelu'.*elu.*relu.*tanh"):
        activations.get("prelu")
    with pytest.raises(TypeError, match="activation"):
        activations.get(3)
