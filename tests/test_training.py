"""Tests for the fit loop (stackit/training.py): batching and padding, and that it does exactly
the math it claims, checked against numpy and a hand-written JAX + optax loop."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import classification_data, mlp

import stackit
from stackit.engine import batch_indices, chunk_plan
from stackit.layers import batch_normalization, fully_connected, input_data, regression


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    stackit.init_graph(seed=None)
    yield
    stackit.init_graph(seed=None)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------ batching


@pytest.mark.parametrize(("n", "batch_size", "per_dispatch"), [
    (1001, 64, 32), (64, 64, 32), (1, 64, 32), (65, 64, 32), (33 * 64, 64, 32), (10, 3, 1),
])
def test_batch_indices_cover_every_sample_once_in_order(n, batch_size, per_dispatch):
    chunks, per_chunk = chunk_plan(n, batch_size, per_dispatch)
    order = np.random.default_rng(0).permutation(n)

    idx = batch_indices(order, batch_size, chunks, per_chunk)

    assert idx.shape == (chunks, per_chunk, batch_size)
    assert per_chunk <= per_dispatch
    flat = idx.reshape(-1)
    np.testing.assert_array_equal(flat[:n], order)
    assert np.all(flat[n:] == -1)
    # whole padding steps are fewer than one per chunk
    assert chunks * per_chunk - -(-n // batch_size) < chunks


# ------------------------------------------------------------------------------ padded last batch


def test_padded_last_batch_compiles_once_and_weights_every_sample_equally():
    x, labels, y = classification_data(1001, 6, 3)
    hidden, out, reg = mlp(6, 8, 3, optimizer=stackit.SGD(0.0),
                           loss="categorical_crossentropy", batch_size=64)
    model = stackit.DNN(reg, seed=1)

    history = model.fit(x, y, n_epoch=2, batch_size=64, shuffle=True, show_metric=True,
                        verbose=0)

    assert model.steps.train_chunk._cache_size() == 1
    assert int(model.train_state.step) == 2 * 16  # ceil(1001 / 64) steps per epoch
    w1, b1 = model.get_weights(hidden.W).astype(np.float64), model.get_weights(hidden.b)
    w2, b2 = model.get_weights(out.W).astype(np.float64), model.get_weights(out.b)
    probs = _softmax(np.maximum(x @ w1 + b1, 0.0) @ w2 + b2)
    expected_loss = float(np.mean(-np.log(probs[np.arange(len(x)), labels])))
    expected_acc = float(np.mean(probs.argmax(axis=1) == labels))
    assert history.history["loss"] == pytest.approx([expected_loss] * 2, rel=1e-5)
    assert history.history["acc"] == pytest.approx([expected_acc] * 2, abs=1e-6)
    assert history.epoch == [1, 2]
    # evaluate pads its last batch too (1001 = 7 * 128 + 105) and counts all 1001 samples
    assert model.evaluate(x, y, batch_size=128) == pytest.approx([expected_acc], abs=1e-6)


def test_batch_norm_statistics_ignore_the_padding_of_the_last_batch():
    # 100 samples in batches of 64: the second batch holds 36 real samples and 28 padding rows.
    # Batch normalization must compute its batch statistics over the 36 real samples only,
    # otherwise the padding biases the loss and the moving averages.
    x, labels, y = classification_data(100, 4, 3, seed=1)
    net = input_data(shape=[None, 4])
    dense = fully_connected(net, 5)
    bn = batch_normalization(dense)
    out = fully_connected(bn, 3, activation="softmax")
    reg = regression(out, optimizer=stackit.SGD(0.0), batch_size=64)
    model = stackit.DNN(reg, seed=0)

    history = model.fit(x, y, n_epoch=1, shuffle=False, verbose=0)

    w1, b1 = model.get_weights(dense.W).astype(np.float64), model.get_weights(dense.b)
    gamma, beta = model.get_weights(bn.gamma), model.get_weights(bn.beta)
    w2, b2 = model.get_weights(out.W).astype(np.float64), model.get_weights(out.b)
    losses, moving_mean, moving_var = [], np.zeros(5), np.ones(5)
    for batch in (slice(0, 64), slice(64, 100)):
        z = x[batch] @ w1 + b1
        mean, var = z.mean(axis=0), z.var(axis=0)
        moving_mean = 0.9 * moving_mean + 0.1 * mean
        moving_var = 0.9 * moving_var + 0.1 * var
        probs = _softmax(((z - mean) / np.sqrt(var + 1e-5) * gamma + beta) @ w2 + b2)
        losses.append(-np.log(probs[np.arange(len(z)), labels[batch]]))
    assert history.history["loss"][0] == pytest.approx(float(np.concatenate(losses).mean()),
                                                       rel=1e-5)
    state = model.train_state.layer_state[bn.name]
    np.testing.assert_allclose(state["moving_mean"], moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["moving_variance"], moving_var, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ exact math


@pytest.mark.parametrize("clip", [0.0, 0.05])
def test_fit_matches_a_hand_written_optax_loop(clip):
    # 70 samples in batches of 32: steps of 32, 32 and 6 samples, each the mean over its real
    # samples; with clip > 0 the global gradient norm is clipped first (it is, at 0.05).
    x, _, y = classification_data(70, 5, 3, seed=2)
    hidden, out, reg = mlp(5, 8, 3, activation="tanh", optimizer=stackit.SGD(0.3),
                           batch_size=32)
    model = stackit.DNN(reg, clip_gradients=clip, seed=0)
    rng = np.random.default_rng(5)
    init = {"W1": rng.normal(0, 0.5, (5, 8)), "b1": rng.normal(0, 0.1, 8),
            "W2": rng.normal(0, 0.5, (8, 3)), "b2": rng.normal(0, 0.1, 3)}
    init = {k: v.astype(np.float32) for k, v in init.items()}
    handles = {"W1": hidden.W, "b1": hidden.b, "W2": out.W, "b2": out.b}
    for name, handle in handles.items():
        model.set_weights(handle, init[name])

    model.fit(x, y, n_epoch=2, shuffle=False, verbose=0)

    def loss_fn(p, xb, yb):
        logits = jnp.tanh(xb @ p["W1"] + p["b1"][None, :]) @ p["W2"] + p["b2"][None, :]
        return jnp.mean(optax.softmax_cross_entropy(logits, yb))

    tx = optax.sgd(0.3)
    if clip:
        tx = optax.chain(optax.clip_by_global_norm(clip), tx)
    params = {k: jnp.asarray(v) for k, v in init.items()}
    opt_state = tx.init(params)
    grad_fn = jax.jit(jax.grad(loss_fn))
    for _ in range(2):
        for start in range(0, 70, 32):
            grads = grad_fn(params, x[start:start + 32], y[start:start + 32])
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
    assert int(model.train_state.step) == 6
    for name, handle in handles.items():
        np.testing.assert_allclose(model.get_weights(handle), params[name], rtol=1e-5,
                                   atol=1e-6, err_msg=name)


# ------------------------------------------------------------------------------ non-finite loss


def _regression_mlp(learning_rate):
    net = input_data(shape=[None, 4])
    hidden = fully_connected(net, 8, activation="relu")
    out = fully_connected(hidden, 2)
    reg = regression(out, optimizer=stackit.SGD(learning_rate), loss="mean_square", metric=None,
                     batch_size=8)
    return hidden, out, reg


def test_non_finite_loss_raises_an_error_naming_the_step_and_skips_the_update():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.normal(size=(40, 2)).astype(np.float32)
    overflowing = np.full((40, 2), 1e30, np.float32)  # finite targets whose squared error is not
    hidden, out, reg = _regression_mlp(1e30)
    model = stackit.DNN(reg, seed=0)
    handles = (hidden.W, hidden.b, out.W, out.b)
    initial = [model.get_weights(h).copy() for h in handles]

    # data crafted to overflow: the very first step fails and changes nothing
    with pytest.raises(stackit.NonFiniteLossError, match=r"\bstep 1\b"):
        model.fit(x, overflowing, n_epoch=1, shuffle=False, verbose=0)
    assert int(model.train_state.step) == 0
    for handle, old in zip(handles, initial, strict=True):
        np.testing.assert_array_equal(model.get_weights(handle), old)

    # a huge learning rate: step 1 is finite and moves the weights to ~1e30; step 2 overflows
    with pytest.raises(stackit.NonFiniteLossError, match=r"\bstep 2\b"):
        model.fit(x, y, n_epoch=2, shuffle=False, verbose=0)
    assert int(model.train_state.step) == 1
    for handle in handles:
        assert np.all(np.isfinite(model.get_weights(handle)))
    assert model.steps.train_chunk._cache_size() == 1
