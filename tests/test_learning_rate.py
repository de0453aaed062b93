"""The learning rate as optimizer state: set between dispatches without recompiling or touching
the optimizer's moments, combined with schedules, saved with checkpoints; AdamW; clip_value."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import classification_data

import stackit
from stackit import learning_rate, schedules
from stackit.callbacks import Callback, LambdaCallback
from stackit.engine.steps import Steps
from stackit.layers import fully_connected, input_data, regression
from stackit.optimizers import ScaleByTFAdamState, decay_mask_2d

N, BATCH = 64, 16  # 4 steps per epoch, one dispatch


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _data():
    x, _, y = classification_data(N, 4, 3)
    return x, y


def _model(optimizer, **dnn_kwargs):
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 8, activation="relu")
    net = fully_connected(net, 3, activation="softmax")
    return stackit.DNN(regression(net, optimizer=optimizer, batch_size=BATCH),
                       seed=0, **dnn_kwargs)


def _sgd_run(tx, n, set_at=None, value=None):
    """Updates of `tx` for gradient 1 (so each is -lr); sets the rate before update `set_at`."""
    w = jnp.zeros(())
    state, out = tx.init(w), []
    for t in range(n):
        if t == set_at:
            state = learning_rate.set_learning_rate(state, value)
        updates, state = tx.update(jnp.ones(()), state, w)
        out.append(-float(updates))
    return out, state


# -- the state and its setter ---------------------------------------------------------------------

def test_a_constant_rate_is_replaced():
    rates, state = _sgd_run(stackit.SGD(0.1).build(), 4, set_at=2, value=0.03)
    assert rates == pytest.approx([0.1, 0.1, 0.03, 0.03])
    assert learning_rate.read(state) == pytest.approx(0.03)


def test_a_set_rate_scales_the_rest_of_the_schedule():
    sched = schedules.piecewise([2, 4], [1.0, 0.5, 0.25])
    rates, state = _sgd_run(stackit.SGD(sched).build(), 6, set_at=1, value=0.1)
    # the rate of step 1 becomes 0.1 (it was 1.0): the rest of the schedule is scaled by 0.1
    assert rates == pytest.approx([1.0, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert float(state.scale) == pytest.approx(0.1)
    assert learning_rate.read(state) == pytest.approx(0.025)  # the rate of the next step


def test_a_schedule_at_zero_cannot_be_scaled():
    tx = stackit.SGD(schedules.warmup_cosine(0.1, 10, 100)).build()  # starts at 0
    state = tx.init(jnp.zeros(()))
    with pytest.raises(ValueError, match="learning rate is 0 at step 0"):
        learning_rate.set_learning_rate(state, 0.1)
    assert learning_rate.set_learning_rate(state, 0.0) is not None  # nothing to change


def test_optax_inject_hyperparams_states_are_read_and_written():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    rates, _ = _sgd_run(tx, 3, set_at=1, value=0.2)
    assert rates == pytest.approx([0.1, 0.2, 0.2])
    scheduled = optax.inject_hyperparams(optax.sgd)(learning_rate=optax.linear_schedule(1, 0, 9))
    with pytest.raises(ValueError, match="inject_hyperparams schedules this learning rate"):
        learning_rate.set_learning_rate(scheduled.init(jnp.zeros(())), 0.1)


def test_an_optax_transformation_as_given_has_no_rate():
    state = optax.adam(1e-3).init(jnp.zeros(2))
    assert learning_rate.get_learning_rate(state) is None
    with pytest.raises(ValueError, match=r"holds no learning rate.*inject_hyperparams"):
        learning_rate.set_learning_rate(state, 0.1)


# -- during fit: no recompilation, moments kept ---------------------------------------------------

def _adam(ts):
    """Adam's own state (count, mu, nu), wherever the optimizer's chain holds it."""
    found = jax.tree.leaves(ts.opt_state, is_leaf=lambda n: isinstance(n, ScaleByTFAdamState))
    return next(n for n in found if isinstance(n, ScaleByTFAdamState))


class _Rates(Callback):
    """At each epoch's start: sets the rate `rates[epoch - 1]`, and records the trace count,
    the optimizer state just before and after, and the parameters."""

    def __init__(self, rates, traces):
        self.rates, self.traces, self.seen = rates, traces, []

    def on_epoch_begin(self, state):
        before = jax.device_get(self.model.train_state)
        state.set_learning_rate(self.rates[state.epoch - 1])
        after = jax.device_get(self.model.train_state)
        self.seen.append((len(self.traces), before, after, state.learning_rate))


def test_setting_the_rate_mid_fit_never_recompiles_and_keeps_adams_moments(monkeypatch):
    traces = []
    step = Steps._train_step

    def counted(self, *args, **kwargs):  # runs only while jax traces the train chunk
        traces.append(1)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Steps, "_train_step", counted)
    model = _model(stackit.Adam(0.01))
    probe = _Rates([0.01, 0.0, 0.02, 0.005], traces)
    history = model.fit(*_data(), n_epoch=4, callbacks=probe, verbose=0)

    compiled = probe.seen[1][0]
    assert compiled >= 1 and len(traces) == compiled  # epoch 1 traced; nothing after it
    assert model.steps.train_chunk._cache_size() == 1
    assert history.history["lr"] == pytest.approx([0.01, 0.0, 0.02, 0.005])
    for epoch, (_, before, after, lr) in enumerate(probe.seen, start=1):
        assert lr == pytest.approx(probe.rates[epoch - 1])
        moments = [(b, a) for b, a in zip(jax.tree.leaves(before.opt_state),
                                          jax.tree.leaves(after.opt_state), strict=True)
                   if b.shape != ()]  # Adam's mu and nu (the scalars: count and the rate)
        assert len(moments) == 8
        for b, a in moments:
            np.testing.assert_array_equal(a, b)
        assert int(_adam(after).count) == 4 * (epoch - 1)  # not reset
    # epoch 2 ran at rate 0: the parameters did not move, while Adam's moments did
    _, start2, _, _ = probe.seen[1]
    _, start3, _, _ = probe.seen[2]
    for b, a in zip(jax.tree.leaves(start2.params), jax.tree.leaves(start3.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(_adam(start2).mu["FullyConnected"]["W"],
                              _adam(start3).mu["FullyConnected"]["W"])
    final = jax.tree.leaves(model.train_state.params)
    assert any(not np.array_equal(a, b) for a, b in zip(final, jax.tree.leaves(start3.params),
                                                        strict=True))


def test_model_set_learning_rate_between_fits_and_in_checkpoints(tmp_path):
    model = _model(stackit.Momentum(0.1, lr_decay=0.5, decay_step=4, staircase=True))
    x, y = _data()
    model.fit(x, y, n_epoch=1, verbose=0)
    assert model.get_learning_rate() == pytest.approx(0.05)  # one decay after 4 steps
    model.set_learning_rate(0.02)  # the schedule goes on, scaled by 0.4
    history = model.fit(x, y, n_epoch=2, verbose=0)
    assert history.history["lr"] == pytest.approx([0.02 * 0.5, 0.02 * 0.25])
    path = model.save(str(tmp_path / "m"))
    again = _model(stackit.Momentum(0.1, lr_decay=0.5, decay_step=4, staircase=True))
    again.load(path)
    assert again.get_learning_rate() == model.get_learning_rate()
    assert again.fit(x, y, n_epoch=1, verbose=0).history["lr"] == pytest.approx([0.02 * 0.125])
    with pytest.raises(ValueError, match="unknown estimator 'nope'"):
        model.set_learning_rate(0.1, head="nope")
    with pytest.raises(ValueError, match="finite number >= 0"):
        model.set_learning_rate(-1.0)


def test_set_learning_rate_from_a_callback_and_its_errors():
    model = _model("sgd")
    calls = []

    def begin(state):
        with pytest.raises(ValueError, match=r"unknown estimator 'x'.*'Regression'"):
            state.set_learning_rate(0.1, head="x")
        with pytest.raises(TypeError, match="must be a number"):
            state.set_learning_rate("0.1")
        model.set_learning_rate(0.3)  # during fit, the model's setter goes to the loop
        calls.append(state.learning_rate)

    model.fit(*_data(), n_epoch=1, callbacks=LambdaCallback(on_train_begin=begin), verbose=0)
    assert calls == [pytest.approx(0.3)] and model.get_learning_rate() == pytest.approx(0.3)
    state = stackit.callbacks.TrainingState(n_epoch=1, steps_per_epoch=1, n_samples=1,
                                            batch_size=1)
    with pytest.raises(RuntimeError, match="during fit"):
        state.set_learning_rate(0.1)


def test_an_optax_transformation_fits_without_a_rate_in_the_logs():
    model = _model(optax.sgd(0.1))
    history = model.fit(*_data(), n_epoch=1, verbose=0)
    assert "lr" not in history.history and model.get_learning_rate() is None


# -- AdamW and clip_value -------------------------------------------------------------------------

def test_adamw_decays_kernels_but_not_biases_or_normalization():
    params = {"Dense": {"W": jnp.full((2, 2), 2.0), "b": jnp.full((2,), 2.0)},
              "BatchNormalization": {"gamma": jnp.ones(2), "beta": jnp.ones(2)}}
    assert decay_mask_2d(params) == {"Dense": {"W": True, "b": False},
                                     "BatchNormalization": {"gamma": False, "beta": False}}
    tx = stackit.AdamW(0.1, weight_decay=0.5).build()
    zeros = jax.tree.map(jnp.zeros_like, params)  # Adam's own step is 0: only the decay moves w
    updates, _ = tx.update(zeros, tx.init(params), params)
    np.testing.assert_allclose(updates["Dense"]["W"], -0.1 * 0.5 * 2.0)
    for leaf in (updates["Dense"]["b"], updates["BatchNormalization"]["gamma"]):
        np.testing.assert_array_equal(leaf, 0.0)


def test_adamw_step_is_tensorflows_adam_plus_decoupled_decay():
    w0, grads = np.array([[0.5, -1.0], [2.0, 0.3]]), [np.array([[0.1, -0.3], [0.02, 0.5]])] * 3
    lr, wd, b1, b2, eps = 0.1, 0.2, 0.8, 0.95, 1e-3
    tx = stackit.AdamW(lr, wd, b1, b2, eps).build()
    w, state = jnp.asarray(w0, jnp.float32), None
    state = tx.init(w)
    m, v, ref = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    for t, g in enumerate(grads, start=1):
        updates, state = tx.update(jnp.asarray(g, jnp.float32), state, w)
        w = optax.apply_updates(w, updates)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        ref = ref - lr * (np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps) + wd * ref)
        np.testing.assert_allclose(w, ref, rtol=1e-5)


def test_adamw_by_name_with_frozen_layers_trains():
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 4])
    frozen = fully_connected(net, 8, activation="relu", trainable=False)
    out = fully_connected(frozen, 3, activation="softmax")
    model = stackit.DNN(regression(out, optimizer="adamw", batch_size=BATCH), seed=0)
    w0 = model.get_weights(frozen.W)
    history = model.fit(*_data(), n_epoch=1, verbose=0)
    np.testing.assert_array_equal(model.get_weights(frozen.W), w0)
    assert history.history["lr"] == pytest.approx([0.001])


def test_clip_value_bounds_every_gradient_element(tmp_path):
    x, y = _data()
    model = _model(stackit.SGD(1.0), clip_gradients=0.0, clip_value=0.01)
    w0 = jax.device_get(model.train_state.params)
    model.fit_batch(x, y)
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: np.abs(a - b),
                                         jax.device_get(model.train_state.params), w0))
    assert max(float(d.max()) for d in moved) == pytest.approx(0.01, rel=1e-4)
    path = model.save(str(tmp_path / "clipped"))
    assert stackit.load_model(path).clip_value == 0.01
    with pytest.raises(ValueError, match=r"clip_value must be >= 0"):
        _model("sgd", clip_value=-1.0)
