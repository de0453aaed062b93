"""One contract, every layer: shapes from `init` match `apply`, jit, determinism, config, hashing.

Each case is a layer descriptor and a per-sample input shape. The checks are the ones every
layer promises (see `stackit.layers.base.Layer`).
"""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit import layers as L
from stackit.metrics import Top_k
from stackit.optimizers import Momentum


def _scaled(x, k):
    return k * x


def _product(xs):
    return xs[0] * xs[1]


CASES = [
    (L.InputData((3, 4)), ()),
    (L.Dense(5, activation="relu"), (3, 4)),
    (L.Dense(3, activation="crelu", regularizer="L2"), (4,)),
    (L.Dropout(0.5), (4, 5)),
    (L.Activation("tanh"), (4,)),
    (L.Activation("crelu"), (2, 3)),
    (L.Flatten(), (2, 3, 4)),
    (L.Reshape((4, -1)), (2, 3, 4)),
    (L.SingleUnit(), (3,)),
    (L.SingleUnit(activation="sigmoid"), ()),
    (L.Conv2D(4, 3, strides=2, activation="relu"), (5, 5, 2)),
    (L.Conv2D(3, (2, 3), padding="valid", bias=False), (5, 6, 2)),
    (L.MaxPool2D(2), (5, 5, 2)),
    (L.MaxPool2D(3, strides=2, padding="valid"), (7, 6, 2)),
    (L.AvgPool2D(2), (5, 5, 2)),
    (L.AvgPool2D((3, 2), strides=(1, 2), padding="valid"), (5, 5, 2)),
    (L.GlobalAvgPool(), (3, 4, 2)),
    (L.GlobalMaxPool(), (3, 4, 2)),
    (L.BatchNormalization(), (4, 3)),
    (L.BatchNormalization(decay=0.5), (3, 3, 2)),
    (L.LocalResponseNormalization(depth_radius=2, alpha=0.1), (3, 3, 6)),
    (L.Regression(), [(5,)]),
    (L.Regression(optimizer=Momentum(0.1, 0.5), metric=Top_k(3), loss="mean_square"), [(5,)]),
    (L.Merge("concat"), [(4,), (2,)]),
    (L.Merge("elemwise_sum"), [(4,), (4,), (4,)]),
    (L.Merge("max", axis=2), [(2, 3), (2, 1)]),
    (L.Operation("add", (None, None), (True, True)), [(3,), (3,)]),
    (L.Operation("mul", (2.0, None), (True,)), [(2, 3)]),
    (L.Operation("reduce_mean", (None,), (True,), axis=1), [(4,)]),
    (L.PadChannels(1, 2), (3, 3, 2)),
    (L.Highway(6, activation="tanh", transform_dropout=0.5), (2, 3)),
    (L.OneHotEncoding(3), (2,)),
    (L.TimeDistributed(L.Dense(3, activation="relu")), (4, 2)),
    (L.TimeDistributed(L.BatchNormalization()), (4, 2)),
    (L.CustomLayer(_scaled, arguments={"k": 2.0}), (3,)),
    (L.CustomMergeLayer(_product), [(3,), (3,)]),
    (L.LeakyReLU(0.2), (3, 2)),
    (L.PReLU(), (3, 2)),
    (L.PReLU(channel_shared=True, weights_init="truncated_normal"), (3,)),
    (L.LayerNormalization(), (2, 5)),
    (L.L2Normalize(axis=-1), (2, 5)),
    (L.Conv1D(4, 3, strides=2, activation="relu"), (7, 2)),
    (L.Conv3D(3, 2, padding="valid"), (4, 4, 3, 2)),
    (L.AtrousConv2D(3, 3, dilation_rate=2), (6, 6, 2)),
    (L.GroupedConv2D(2, 3), (5, 5, 3)),
    (L.Conv2DTranspose(3, 3, strides=2), (3, 3, 2)),
    (L.Conv3DTranspose(2, 2, strides=2), (2, 2, 2, 3)),
    (L.HighwayConv1D(3, 3, activation="elu"), (6, 3)),
    (L.HighwayConv2D(2, 3), (4, 4, 2)),
    (L.UpSample2D(2), (3, 2, 2)),
    (L.Upscore(3), (3, 3, 2)),
    (L.Upscore3D(2), (2, 2, 2, 3)),
    (L.MaxPool1D(2), (7, 3)),
    (L.AvgPool1D(3, strides=2, padding="valid"), (7, 3)),
    (L.MaxPool3D(2), (4, 4, 4, 2)),
    (L.AvgPool3D(2), (4, 3, 4, 2)),
    (L.GlobalMaxPool(), (5, 3)),
    (L.Embedding(10, 4), (5,)),
    (L.SimpleRNN(4, go_backwards=True), [(5, 3)]),
    (L.LSTM(4, dropout=0.5, output_dropout=0.5), [(5, 3)]),
    (L.GRU(4, return_sequences=True), [(5, 3)]),
    (L.RNN(L.MultiRNNCell([L.BasicLSTMCell(3), L.GRUCell(2)])), [(5, 3)]),
    (L.Bidirectional(L.LSTM(3, return_sequences=True)), [(5, 3)]),
    (L.SequenceLength(), (5, 3)),
]
#: Layers whose parameters start at constants (ones, zeros, bilinear), the same for every key.
CONSTANT_INIT = {L.LayerNormalization, L.PReLU, L.Upscore, L.Upscore3D}  # bilinear start
#: Layers holding a Python function, which a saved config cannot hold (documented).
FUNCTION_HOLDERS = {L.CustomLayer, L.CustomMergeLayer}
IDS = [f"{type(layer).__name__}-{i}" for i, (layer, _) in enumerate(CASES)]


_BUILT: dict[int, tuple] = {}


@pytest.fixture(params=range(len(CASES)), ids=IDS)
def case(request):
    """(layer, input shape, params, state, output shape, a batch of 2, a key), built once."""
    i = request.param
    if i not in _BUILT:
        layer, in_shape = CASES[i]
        params, state, out_shape = layer.init(jax.random.PRNGKey(i), in_shape)
        shape = layer.shape if isinstance(layer, L.InputData) else in_shape
        rng = np.random.default_rng(i)
        if layer.n_inputs == -1:  # a list of tensors in, a list of arrays to apply
            x = [jnp.asarray(rng.normal(size=(2, *s)).astype(np.float32)) for s in shape]
        else:
            x = jnp.asarray(rng.normal(size=(2, *shape)).astype(np.float32))
        _BUILT[i] = (layer, in_shape, params, state, tuple(out_shape), x,
                     jax.random.PRNGKey(100 + i))
    return _BUILT[i]


_JIT_RUNS: dict[int, tuple] = {}


def _jitted(case):
    """One compiled call per layer: eval with two keys, and a training step."""
    layer, _, params, state, _, x, key = case
    i = CASES.index((layer, case[1]))
    if i not in _JIT_RUNS:
        @jax.jit
        def run(params, state, x, key, other_key):
            return (layer.apply(params, state, x, training=False, key=key),
                    layer.apply(params, state, x, training=False, key=other_key),
                    layer.apply(params, state, x, training=True, key=key))

        _JIT_RUNS[i] = run(params, state, x, key, jax.random.PRNGKey(12345))
    return _JIT_RUNS[i]


def _batch(x) -> int:
    return (x[0] if isinstance(x, list) else x).shape[0]


def test_output_shape_from_init_matches_apply_under_jit(case):
    _, _, _, state, out_shape, x, _ = case
    (y_eval, eval_state), _, (y_train, train_state) = _jitted(case)
    assert y_eval.shape == y_train.shape == (_batch(x), *out_shape)
    # The state keeps its structure, shapes and dtypes through evaluation and training.
    for new_state in (eval_state, train_state):
        assert jax.tree.structure(new_state) == jax.tree.structure(state)
        for new, old in zip(jax.tree.leaves(new_state), jax.tree.leaves(state), strict=True):
            assert (new.shape, new.dtype) == (old.shape, old.dtype)


def test_deterministic_when_not_training(case):
    _, _, _, state, _, _, _ = case
    (y1, s1), (y2, s2), _ = _jitted(case)
    np.testing.assert_array_equal(y1, y2)
    for s in (s1, s2):   # evaluation leaves the state alone
        assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), s, state))


def test_eager_without_a_key_matches_jit(case):
    layer, _, params, state, out_shape, x, _ = case
    y, _ = layer.apply(params, state, x, training=False, key=None)
    assert y.shape == (_batch(x), *out_shape)
    np.testing.assert_allclose(y, _jitted(case)[0][0], rtol=1e-5, atol=1e-6)


def test_params_are_arrays_of_float32(case):
    _, _, params, state, _, _, _ = case
    for leaf in jax.tree.leaves((params, state)):
        assert isinstance(leaf, jax.Array) and leaf.dtype == jnp.float32


def test_config_survives_json_round_trip(case):
    layer = case[0]
    if type(layer) in FUNCTION_HOLDERS:
        with pytest.raises(TypeError, match="Python object"):
            layer.get_config()
        return
    config = layer.get_config()
    assert config["type"] == type(layer).__name__
    rebuilt = L.layer_from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(layer)
    assert rebuilt == layer
    assert hash(rebuilt) == hash(layer)
    assert rebuilt.get_config() == config


def test_descriptor_is_hashable_and_frozen(case):
    layer = case[0]
    assert {layer: 1}[layer] == 1
    field = dataclasses.fields(layer)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(layer, field, getattr(layer, field))
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.name = "other"


def test_init_is_a_pure_function_of_the_key(case):
    layer, in_shape, params, state, out_shape, _, _ = case
    i = CASES.index((layer, in_shape))
    p, s, o = layer.init(jax.random.PRNGKey(i), in_shape)  # the key `case` was built with
    assert tuple(o) == out_shape
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), p, params))
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), s, state))
    if params and type(layer) not in CONSTANT_INIT:   # another key, other values
        other, _, _ = layer.init(jax.random.PRNGKey(i + 1000), in_shape)
        assert jax.tree.structure(other) == jax.tree.structure(params)
        assert not all(jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)),
                                                    other, params)))


def test_every_public_layer_class_is_covered():
    covered = {type(layer) for layer, _ in CASES}
    public = {getattr(L, name) for name in L.__all__}
    classes = {c for c in public if isinstance(c, type) and issubclass(c, L.Layer)} - {L.Layer}
    assert classes <= covered, sorted(c.__name__ for c in classes - covered)


def test_lists_and_numpy_scalars_become_plain_hashable_values():
    layer = L.Conv2D(np.int64(4), [3, 3], strides=np.int32(2), weight_decay=np.float32(0.5))
    assert layer.filters == 4 and type(layer.filters) is int
    assert layer.kernel_size == (3, 3) and type(layer.strides) is int
    assert type(layer.weight_decay) is float
    hash(layer)
    json.dumps(layer.get_config())


def test_unknown_type_in_config_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown type 'Conv9D'.*Conv2D"):
        L.layer_from_config({"type": "Conv9D", "name": "x"})


def test_a_callable_hyperparameter_cannot_be_saved_and_says_why():
    layer = L.Dense(3, activation=jnp.tanh)
    with pytest.raises(TypeError, match="activation.*Use a name"):
        layer.get_config()
