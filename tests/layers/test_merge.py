"""merge / Merge against numpy, its errors, and merged networks through the model."""

import numpy as np
import pytest

import stackit
from stackit.layers import fully_connected, input_data, merge, merge_outputs, regression


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()


def _x(n=6, d=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _np_dense(model, ref, x, act=lambda v: v):
    w = model.get_weights(ref.W)
    b = model.get_weights(ref.b)
    return act(x @ w + b)


def test_concat_of_two_branches_matches_numpy():
    net = input_data(shape=[None, 5])
    a = fully_connected(net, 3, activation="relu")
    b = fully_connected(net, 2, activation="tanh")
    out = merge([a, b], mode="concat")
    assert out.get_shape().as_list() == [None, 5]
    model = stackit.DNN(out, seed=0)
    x = _x()
    expected = np.concatenate([_np_dense(model, a, x, lambda v: np.maximum(v, 0)),
                               _np_dense(model, b, x, np.tanh)], axis=1)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)


def test_residual_sum_with_an_identity_branch_matches_numpy():
    net = input_data(shape=[None, 5])
    branch = fully_connected(net, 5)
    out = merge([net, branch], mode="elemwise_sum")
    model = stackit.DNN(out, seed=0)
    x = _x()
    np.testing.assert_allclose(model.predict(x), x + _np_dense(model, branch, x), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("mode, reduce", [("sum", np.sum), ("mean", np.mean), ("max", np.max),
                                          ("min", np.min), ("prod", np.prod)])
def test_reducing_modes_concatenate_then_reduce_the_axis(mode, reduce):
    net = input_data(shape=[None, 5])
    a, b = fully_connected(net, 4), fully_connected(net, 4)
    out = merge([a, b], mode=mode, axis=1)
    assert out.get_shape().as_list() == [None]
    model = stackit.DNN(out, seed=0)
    x = _x()
    joined = np.concatenate([_np_dense(model, a, x), _np_dense(model, b, x)], axis=1)
    np.testing.assert_allclose(model.predict(x), reduce(joined, axis=1), rtol=1e-4, atol=1e-5)


def test_elemwise_mul_multiplies_branch_outputs():
    net = input_data(shape=[None, 5])
    a, b = fully_connected(net, 3), fully_connected(net, 3)
    model = stackit.DNN(merge([a, b], mode="elemwise_mul"), seed=0)
    x = _x()
    np.testing.assert_allclose(model.predict(x),
                               _np_dense(model, a, x) * _np_dense(model, b, x), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("make, error, match", [
    (lambda n: merge([fully_connected(n, 2)], "concat"), ValueError, "2 or more tensors"),
    (lambda n: merge([fully_connected(n, 2), fully_connected(n, 2)], "stack"), ValueError,
     r"mode must be one of .*'concat'"),
    (lambda n: merge([fully_connected(n, 2), fully_connected(n, 3)], "elemwise_sum"),
     ValueError, r"elemwise_sum needs tensors of one shape.*\(None, 2\), \(None, 3\)"),
    (lambda n: merge([fully_connected(n, 2), fully_connected(n, 2)], "concat", axis=0),
     ValueError, "cannot be 0"),
    (lambda n: merge([n, input_data(shape=[None, 4])], "elemwise_mul"), ValueError,
     r"one shape.*\(None, 5\), \(None, 4\)"),
    (lambda n: merge([n, np.zeros((2, 5))], "concat"), TypeError, "expected layer outputs"),
])
def test_bad_merges_are_refused_with_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make(input_data(shape=[None, 5]))


def test_a_merged_network_trains_saves_and_reloads(tmp_path):
    x = _x(60, 5)
    y = np.eye(2)[(x[:, 0] > 0).astype(int)]

    def build():
        stackit.layers.reset_default_graph()
        net = input_data(shape=[None, 5])
        a = fully_connected(net, 8, activation="relu")
        b = fully_connected(net, 8, activation="tanh", trainable=False)
        out = fully_connected(merge([a, b], "concat"), 2, activation="softmax")
        return stackit.DNN(regression(out, learning_rate=0.05, batch_size=16), seed=1), a, b

    model, a, b = build()
    frozen_before = model.get_weights(b.W)
    trained_before = model.get_weights(a.W)
    history = model.fit(x, y, n_epoch=15, verbose=0)

    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_array_equal(model.get_weights(b.W), frozen_before)  # trainable=False
    assert not np.allclose(model.get_weights(a.W), trained_before)
    assert stackit.get_layer_variables_by_name(a.name) == [a.W, a.b]

    path = model.save(str(tmp_path / "merged"))
    again, a2, _ = build()
    again.load(path)
    np.testing.assert_array_equal(again.get_weights(a2.W), model.get_weights(a.W))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    again.set_weights(a2.b, np.ones(8))
    np.testing.assert_array_equal(again.get_weights("FullyConnected/b"), np.ones(8))


def test_summary_counts_frozen_layers_inside_a_merge_as_non_trainable():
    from rich.console import Console

    net = input_data(shape=[None, 5])
    a = fully_connected(net, 8)
    b = fully_connected(net, 8, trainable=False)
    model = stackit.DNN(fully_connected(merge([a, b], "concat"), 2), seed=0)
    console = Console(record=True, width=120)
    model.summary(console=console)
    text = console.export_text()
    assert "Trainable params: 82  Non-trainable params: 48" in text  # 48 + 34 | 5*8 + 8


def test_merge_outputs_concatenates_on_axis_1_and_passes_one_tensor_through():
    a, b = input_data([None, 3]), input_data([None, 2])
    out = merge_outputs([a, b])
    assert out.get_shape().as_list() == [None, 5]
    assert out.layer.mode == "concat" and out.layer.axis == 1
    assert merge_outputs([a]) is a
    with pytest.raises(TypeError, match="expected layer outputs"):
        merge_outputs([a, 3])
