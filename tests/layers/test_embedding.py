"""embedding / Embedding against numpy indexing: float and int ids, out-of-range ids, errors,
names, config, and training only the rows that were looked up."""

from __future__ import annotations

import inspect
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit.layers.base import layer_from_config
from stackit.layers.core import fully_connected, input_data
from stackit.layers.embedding_ops import Embedding, embedding
from stackit.layers.estimator import regression


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()


def test_keeps_tflearns_signature_and_defaults():
    params = inspect.signature(embedding).parameters
    assert list(params)[:4] == ["incoming", "input_dim", "output_dim", "validate_indices"]
    assert params["weights_init"].default == "truncated_normal"
    assert params["name"].default == "Embedding" and params["trainable"].default is True


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_looks_up_rows_of_w_for_float_and_int_ids(dtype):
    ids = input_data([None, 4], dtype=dtype)
    out = embedding(ids, input_dim=6, output_dim=3)
    assert out.shape == (None, 4, 3) and out.W.param == "W"
    model = stackit.DNN(out, seed=0)
    x = np.array([[0, 5, 2, 2], [1, 1, 3, 4]])
    w = model.get_weights(out.W)
    assert w.shape == (6, 3) and np.std(w) == pytest.approx(0.02 * 0.88, rel=0.3)
    np.testing.assert_array_equal(model.predict(x.astype(dtype)), w[x])


def test_out_of_range_ids_embed_to_zeros_and_get_no_gradient():
    layer = Embedding(5, 2)
    params, _, out = layer.init(jax.random.PRNGKey(0), (4,))
    assert out == (4, 2)
    ids = jnp.asarray([[0.0, -1.0, 5.0, 4.9], [7.0, 3.0, -5.0, 1.0]])
    y, _ = layer.apply(params, {}, ids, training=False, key=None)
    w = np.asarray(params["W"])
    expected = np.stack([[w[0], np.zeros(2), np.zeros(2), w[4]],   # 4.9 truncates to 4
                         [np.zeros(2), w[3], np.zeros(2), w[1]]])
    np.testing.assert_array_equal(y, expected)
    grads = jax.grad(lambda p: jnp.sum(layer.apply(p, {}, ids, training=False, key=None)[0]))(
        params)["W"]
    np.testing.assert_array_equal(np.asarray(grads)[:, 0], [1, 1, 0, 1, 1])  # rows 0,1,3,4 once


def test_training_updates_only_the_rows_looked_up():
    ids = input_data([None, 3])
    net = embedding(ids, input_dim=8, output_dim=2, name="vocab")
    net = fully_connected(net, 2, activation="softmax")
    model = stackit.DNN(regression(net, optimizer="sgd", learning_rate=1.0), seed=0,
                        clip_gradients=0.0)
    emb = model.net.first_node["vocab"]
    before = model.get_weights(emb.W)
    x = np.array([[1, 2, 3], [3, 2, 1]], np.float32)
    model.fit(x, np.eye(2, dtype=np.float32)[[0, 1]], n_epoch=1, batch_size=2, verbose=0)
    changed = np.any(model.get_weights(emb.W) != before, axis=1)
    np.testing.assert_array_equal(changed, [False, True, True, True, False, False, False, False])


def test_names_count_up_scope_is_exact_and_reuse_shares():
    ids = input_data([None, 3])
    a, b = embedding(ids, 5, 2), embedding(ids, 5, 2)
    c = embedding(ids, 5, 2, scope="shared")
    d = embedding(ids, 5, 2, scope="shared", reuse=True)
    assert [a.name, b.name, c.name] == ["Embedding", "Embedding_1", "shared"]
    assert d.layer is c.layer
    assert embedding(ids, 5, 2, name="words").name == "words"


@pytest.mark.parametrize("make, error, match", [
    (lambda: embedding(input_data([None, 3, 2]), 5, 2), ValueError,
     r"embedding 'Embedding': expected a 2-D input \(batch, ids\). "
     r"Received: shape=\(None, 3, 2\)"),
    (lambda: embedding(input_data([None]), 5, 2), ValueError, "2-D input"),
    (lambda: embedding(input_data([None, 3]), 0, 2), ValueError,
     "input_dim must be a positive int. Received: input_dim=0"),
    (lambda: embedding(input_data([None, 3]), 5, 2.5), TypeError, "output_dim=2.5"),
    (lambda: embedding(input_data([None, 3]), 5, 2, weights_init="nope"), ValueError,
     "weights_init: Unknown initializer 'nope'"),
    (lambda: embedding(input_data([None, 3]), 5, 2, validate_indices="yes"), TypeError,
     "validate_indices must be a bool"),
    (lambda: embedding(np.zeros((2, 3)), 5, 2), TypeError, "output of a previous layer"),
])
def test_bad_arguments_fail_at_connection(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_config_round_trips_and_keras_spelling_builds_the_same_layer():
    layer = Embedding(100, 16, weights_init="xavier", trainable=False, name="e")
    rebuilt = layer_from_config(json.loads(json.dumps(layer.get_config())))
    assert rebuilt == layer and hash(rebuilt) == hash(layer)
    ids = input_data([None, 7])
    assert embedding(ids, 100, 16, weights_init="xavier", trainable=False, scope="e").layer \
        == layer
    params, state, out = Embedding(np.int64(9), 4).init(jax.random.PRNGKey(0), (7,))
    assert params["W"].dtype == jnp.float32 and state == {} and out == (7, 4)
