"""Shared test fixtures: make numeric mistakes loud and give each test a fresh PRNG key."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
