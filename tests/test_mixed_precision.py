"""Mixed precision (`DNN(mixed_precision=...)`): bfloat16 / float16 compute, float32 state."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import stackit
from stackit import precision
from stackit.datasets import mnist
from stackit.layers import (
    batch_normalization,
    conv_2d,
    embedding,
    fully_connected,
    input_data,
    lstm,
    max_pool_2d,
    regression,
)
from tests.helpers import classification_data, mlp


def _float_dtypes(tree) -> set[str]:
    return {str(a.dtype) for a in jax.tree.leaves(tree) if jnp.issubdtype(a.dtype, jnp.floating)}


@pytest.mark.parametrize("spelling, name", [("bfloat16", "bfloat16"), ("bf16", "bfloat16"),
                                            ("mixed_bfloat16", "bfloat16"), ("FP16", "float16"),
                                            ("mixed_float16", "float16"), ("float32", None),
                                            (None, None)])
def test_policy_spellings(spelling, name):
    assert precision.policy_name(spelling) == name


def test_bad_policy_is_refused_before_building():
    *_, net = mlp(4, 8, 2)
    with pytest.raises(ValueError, match="Unknown mixed_precision 'int8'.*bfloat16"):
        stackit.DNN(net, mixed_precision="int8")
    with pytest.raises(TypeError, match="mixed_precision must be a string"):
        stackit.DNN(net, mixed_precision=16)


def test_bfloat16_forward_matches_a_hand_written_bfloat16_forward():
    x, _, _ = classification_data(64, 12, 3)
    x = 3.0 * x
    net = input_data(shape=[None, 12])
    hidden = fully_connected(net, 16, activation="relu")
    out = fully_connected(hidden, 3)
    model = stackit.DNN(regression(out, loss="mean_square"), mixed_precision="bfloat16", seed=3)
    got = np.asarray(model.predict(x))
    assert got.dtype == np.float32
    weights = [np.asarray(model.get_weights(t)) for t in (hidden.W, hidden.b, out.W, out.b)]
    w1, b1, w2, b2 = (jnp.asarray(w, jnp.bfloat16) for w in weights)
    h = jax.nn.relu(jnp.asarray(x, jnp.bfloat16) @ w1 + b1[None])
    want = np.asarray((h @ w2 + b2[None]).astype(jnp.float32))
    # the float32 forward of the same weights is much farther away: it computes in bfloat16
    w1, b1, w2, b2 = weights
    full = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    scale = np.abs(full).max()
    assert np.abs(got - want).max() < 1e-3 * scale < np.abs(got - full).max()


@pytest.mark.parametrize("policy", ["bfloat16", "float16"])
def test_parameters_optimizer_state_and_statistics_stay_float32(policy):
    x, _, y = classification_data(96, 6, 3, seed=1)
    net = input_data(shape=[None, 6])
    net = fully_connected(net, 8, activation="relu")
    net = batch_normalization(net)
    net = fully_connected(net, 3, activation="softmax")
    model = stackit.DNN(regression(net, optimizer="adam"), mixed_precision=policy, seed=0)
    model.fit(x, y, n_epoch=2, batch_size=32)
    ts = model.train_state
    assert _float_dtypes(ts.params) == {"float32"}
    assert _float_dtypes(ts.layer_state) == {"float32"}  # batch-norm moving statistics
    assert _float_dtypes(ts.opt_state) == {"float32"}
    moving = ts.layer_state["BatchNormalization"]["moving_mean"]
    assert np.all(np.isfinite(moving)) and np.any(np.asarray(moving) != 0)
    assert np.isfinite(model.evaluate(x, y, return_dict=True)["loss"])


def test_bfloat16_gradients_follow_the_float32_gradients():
    """One SGD step of a bf16 model moves the weights as the float32 model's step does, up to
    bfloat16's rounding (3 significant digits)."""
    x, _, y = classification_data(32, 5, 2, seed=2)
    moved = {}
    for policy in (None, "bfloat16"):
        stackit.reset_default_graph()
        hidden, _, net = mlp(5, 4, 2, optimizer="sgd", learning_rate=1.0)
        model = stackit.DNN(net, mixed_precision=policy, seed=7, clip_gradients=0)
        before = np.asarray(model.get_weights(hidden.W))
        model.fit(x, y, n_epoch=1, batch_size=32, shuffle=False)
        moved[policy] = np.asarray(model.get_weights(hidden.W)) - before
    assert np.abs(moved[None]).max() > 1e-3
    np.testing.assert_allclose(moved["bfloat16"], moved[None],
                               atol=0.02 * np.abs(moved[None]).max())


def test_dynamic_loss_scale_follows_its_rule():
    tx = precision.dynamic_loss_scale(optax.sgd(0.5), initial=8.0, period=3, factor=2.0,
                                      min_scale=2.0)
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    assert float(precision.loss_scale(state)) == 8.0
    scales = []
    grads = [{"w": jnp.ones(2)}] * 3 + [{"w": jnp.array([1.0, jnp.inf])}] * 3 + \
        [{"w": jnp.ones(2)}]
    for g in grads:
        updates, new_state = tx.update(g, state, params)
        finite = bool(jnp.all(jnp.isfinite(g["w"])))
        if finite:
            np.testing.assert_allclose(updates["w"], -0.5 * g["w"])
        else:  # skipped: no update, the wrapped state unchanged
            np.testing.assert_array_equal(updates["w"], 0.0)
        params = optax.apply_updates(params, updates)
        state = new_state
        scales.append(float(state.scale))
    # 3 good steps double it; each overflow halves it, never below min_scale
    assert scales == [8.0, 8.0, 16.0, 8.0, 4.0, 2.0, 2.0]
    np.testing.assert_allclose(params["w"], 1.0 - 4 * 0.5)


def test_float16_keeps_the_loss_scale_through_save_and_load(tmp_path):
    x, _, y = classification_data(64, 6, 3, seed=4)
    *_, net = mlp(6, 8, 3)
    model = stackit.DNN(net, mixed_precision="float16", seed=1)
    model.fit(x, y, n_epoch=1, batch_size=16)
    scale = precision.loss_scale(model.train_state.opt_state[0])
    assert scale is not None and float(scale) == 2.0 ** 15  # no overflow in 4 steps
    path = model.save(str(tmp_path / "half"))
    loaded = stackit.load_model(path)
    assert loaded.mixed_precision == "float16"
    np.testing.assert_array_equal(
        precision.loss_scale(loaded.train_state.opt_state[0]), scale)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_lstm_trains_in_bfloat16():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(64, 7))
    labels = (ids[:, 0] > 10).astype(np.int64)  # the first word decides
    net = input_data(shape=[None, 7])
    net = embedding(net, input_dim=20, output_dim=8)
    net = lstm(net, 16)
    net = fully_connected(net, 2, activation="softmax")
    model = stackit.DNN(regression(net, optimizer="adam", learning_rate=0.05),
                        mixed_precision="bfloat16", seed=0)
    first = model.evaluate(ids, np.eye(2)[labels], return_dict=True)["loss"]
    model.fit(ids, np.eye(2, dtype=np.float32)[labels], n_epoch=8, batch_size=16)
    assert model.evaluate(ids, np.eye(2)[labels], return_dict=True)["loss"] < 0.5 * first


def _lenet():
    net = input_data(shape=[None, 28, 28, 1])
    net = conv_2d(net, 6, 5, activation="relu")
    net = max_pool_2d(net, 2)
    net = conv_2d(net, 16, 5, activation="relu")
    net = max_pool_2d(net, 2)
    net = fully_connected(net, 120, activation="relu")
    net = fully_connected(net, 84, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    return regression(net, optimizer="adam", learning_rate=0.002)


def test_bfloat16_lenet_reaches_the_float32_accuracy_within_one_point():
    x, y, test_x, test_y = mnist.load_sample(one_hot=True)
    x, test_x = x.reshape(-1, 28, 28, 1), test_x.reshape(-1, 28, 28, 1)
    accuracy = {}
    for policy in (None, "bfloat16"):
        stackit.reset_default_graph()
        model = stackit.DNN(_lenet(), mixed_precision=policy, seed=0)
        model.fit(x, y, n_epoch=6, batch_size=64)
        accuracy[policy] = model.evaluate(test_x, test_y)[0]
    assert accuracy[None] > 0.95
    assert abs(accuracy["bfloat16"] - accuracy[None]) <= 0.01, accuracy


def test_export_keeps_the_policy(tmp_path):
    x, _, _ = classification_data(20, 6, 3, seed=5)
    *_, net = mlp(6, 8, 3)
    model = stackit.DNN(net, mixed_precision="bfloat16", seed=2)
    run = stackit.load_exported(model.export(str(tmp_path / "bf16")))
    got = np.asarray(run(x))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-6, atol=1e-7)
    stackit.reset_default_graph()
    *_, net = mlp(6, 8, 3)
    in_float32 = stackit.DNN(net, seed=2).predict(x)  # same weights, float32 compute
    assert np.abs(got - in_float32).max() > 1e-5
