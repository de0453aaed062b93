"""Shared test fixtures: make numeric mistakes loud and give each test a fresh PRNG key."""

import atexit
import os
import shutil
import tempfile

import jax
import pytest

import stackit

jax.config.update("jax_numpy_rank_promotion", "raise")

# Many tests build models of the same shapes; one compilation cache for the whole session
# (a fresh folder, so every run starts cold) lets them share the compiled steps.
_CACHE = tempfile.mkdtemp(prefix="stackit-test-jax-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
# Measured dispatch choices (stackit.engine.dispatch) go there too, never to the user's cache.
os.environ["STACKIT_DISPATCH_FILE"] = os.path.join(_CACHE, "dispatch.json")


@pytest.fixture(autouse=True)
def fresh_graph():
    """Each test builds in a fresh default graph (layer names count from `FullyConnected`,
    `fc`, ... again), as each tflearn script ran in its own."""
    stackit.reset_default_graph()


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
