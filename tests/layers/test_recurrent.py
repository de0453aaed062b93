"""Recurrent layers against step-by-step numpy loops; dynamic padding, states, graphs, errors,
configs, saving, and an LSTM that learns an order task."""

from __future__ import annotations

import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit.layers import naming
from stackit.layers.base import Tensor, layer_from_config
from stackit.layers.core import dropout, fully_connected, input_data
from stackit.layers.embedding_ops import embedding
from stackit.layers.estimator import regression
from stackit.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    BasicLSTMCell,
    BasicRNNCell,
    Bidirectional,
    GRUCell,
    LSTMCell,
    MultiRNNCell,
    SequenceLength,
    SimpleRNN,
    bidirectional_rnn,
    gru,
    lstm,
    retrieve_seq_length_op,
    simple_rnn,
)

RNG = np.random.default_rng(0)
B, T, F, N = 3, 5, 4, 6  # batch, time, features, units


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()


# -- numpy references -----------------------------------------------------------------------------

def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def np_step(kind, p, carry, x_t, forget_bias=1.0, act=np.tanh):
    """One step of `kind` ('rnn', 'lstm', 'gru') in float64; returns (carry, y)."""
    w, u = np.asarray(p["W"], np.float64), np.asarray(p["U"], np.float64)
    b = np.asarray(p["b"], np.float64) if "b" in p else 0.0
    n = u.shape[0]
    z = x_t @ w + b
    if kind == "rnn":
        h = act(z + carry[0] @ u)
        return (h,), h
    if kind == "lstm":
        c, h = carry
        g = z + h @ u
        i, j, f, o = g[:, :n], g[:, n:2 * n], g[:, 2 * n:3 * n], g[:, 3 * n:]
        c = c * _sigmoid(f + forget_bias) + _sigmoid(i) * act(j)
        h = act(c) * _sigmoid(o)
        return (c, h), h
    h = carry[0]
    ru = _sigmoid(z[:, :2 * n] + h @ u[:, :2 * n])
    r, up = ru[:, :n], ru[:, n:]
    cand = act(z[:, 2 * n:] + (r * h) @ u[:, 2 * n:])
    h = up * h + (1.0 - up) * cand
    return (h,), h


def np_run(kind, p, x, carry=None, lengths=None, **step_kwargs):
    """Loops `np_step` over x (batch, time, features): (outputs (batch, time, n), last output,
    final carry), padded steps (t >= length) frozen and zero in the outputs."""
    x = np.asarray(x, np.float64)
    n = np.asarray(p["U"]).shape[0]
    n_carry = 2 if kind == "lstm" else 1
    carry = tuple(np.zeros((len(x), n)) for _ in range(n_carry)) if carry is None else \
        tuple(np.asarray(c, np.float64) for c in carry)
    lengths = np.full(len(x), x.shape[1]) if lengths is None else np.asarray(lengths)
    ys, last = np.zeros((len(x), x.shape[1], n)), np.zeros((len(x), n))
    for t in range(x.shape[1]):
        new, y = np_step(kind, p, carry, x[:, t], **step_kwargs)
        live = (t < lengths)[:, None]
        carry = tuple(np.where(live, a, b) for a, b in zip(new, carry, strict=True))
        ys[:, t] = np.where(live, y, 0.0)
        last = np.where(live, y, last)
    return ys, last, carry


def _reverse(x, lengths):
    out = np.array(x, copy=True)
    for i, n in enumerate(lengths):
        out[i, :n] = x[i, :n][::-1]
    return out


def _x(b=B, t=T, f=F, seed=0):
    return np.random.default_rng(seed).normal(size=(b, t, f)).astype(np.float32)


def _apply(layer, x, *extra, training=False, key=None, params=None, seed=0):
    """init (unless `params`) + jit apply of `layer` on `[x, *extra]`: (output(s), params)."""
    shapes = [tuple(np.shape(a)[1:]) for a in (x, *extra)]
    if params is None:
        params, _, _ = layer.init(jax.random.PRNGKey(seed), shapes)
        params = {k: v + 0.1 * jax.random.normal(jax.random.PRNGKey(9), v.shape)  # nonzero b
                  for k, v in params.items()}
    apply = jax.jit(layer.apply, static_argnames="training")
    y, _ = apply(params, {}, [jnp.asarray(a) for a in (x, *extra)], training=training, key=key)
    return y, params


KINDS = [("rnn", SimpleRNN), ("lstm", LSTM), ("gru", GRU)]


# -- math -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, cls", KINDS)
def test_each_layer_matches_a_numpy_loop(kind, cls):
    x = _x()
    (ys, *carry), params = _apply(cls(N, return_sequences=True, return_state=True), x)
    ref_ys, _, ref_carry = np_run(kind, params, x)
    assert ys.shape == ref_ys.shape == (B, T, N)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-4, atol=1e-5)
    for got, want in zip(carry, ref_carry, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_parameters_are_w_u_b_with_gate_blocks():
    for cls, gates in ((SimpleRNN, 1), (LSTM, 4), (GRU, 3)):
        params, _, out = cls(N).init(jax.random.PRNGKey(0), [(T, F)])
        assert {k: v.shape for k, v in params.items()} == {
            "W": (F, gates * N), "U": (N, gates * N), "b": (gates * N,)}
        assert out == (N,)
    gru_bias = GRU(N).init(jax.random.PRNGKey(0), [(T, F)])[0]["b"]
    np.testing.assert_array_equal(gru_bias, np.r_[np.ones(2 * N), np.zeros(N)])  # tflearn
    assert set(LSTM(N, bias=False).init(jax.random.PRNGKey(0), [(T, F)])[0]) == {"W", "U"}


def test_lstm_options_forget_bias_and_activations_follow_the_numpy_loop():
    x = _x()
    layer = LSTM(N, activation="relu", forget_bias=0.0, bias=False)
    y, params = _apply(layer, x)
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    np.testing.assert_allclose(y, np_run("lstm", params, x, forget_bias=0.0, act=relu)[1],
                               rtol=1e-4, atol=1e-5)


def test_go_backwards_reads_the_sequence_from_its_end():
    x = _x()
    y, params = _apply(GRU(N, go_backwards=True, return_sequences=True), x)
    np.testing.assert_allclose(y, np_run("gru", params, x[:, ::-1])[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_is_forward_and_reversed_backward_concatenated(return_sequences):
    x = _x()
    layer = Bidirectional(LSTM(N, return_sequences=return_sequences),
                          backward_layer=LSTM(N + 1, return_sequences=return_sequences))
    y, params = _apply(layer, x)
    fw = {k[3:]: v for k, v in params.items() if k.startswith("fw_")}
    bw = {k[3:]: v for k, v in params.items() if k.startswith("bw_")}
    ys_fw, last_fw, _ = np_run("lstm", fw, x)
    ys_bw, last_bw, _ = np_run("lstm", bw, x[:, ::-1])
    expected = (np.concatenate([ys_fw, ys_bw[:, ::-1]], -1) if return_sequences
                else np.concatenate([last_fw, last_bw], -1))
    assert y.shape == expected.shape == ((B, T, 2 * N + 1) if return_sequences
                                         else (B, 2 * N + 1))
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode, join", [("sum", np.add), ("mul", np.multiply),
                                        ("ave", lambda a, b: (a + b) / 2)])
def test_bidirectional_merge_modes(mode, join):
    x = _x()
    y, params = _apply(Bidirectional(SimpleRNN(N), merge_mode=mode), x)
    fw = {k[3:]: v for k, v in params.items() if k.startswith("fw_")}
    bw = {k[3:]: v for k, v in params.items() if k.startswith("bw_")}
    expected = join(np_run("rnn", fw, x)[1], np_run("rnn", bw, x[:, ::-1])[1])
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_multi_rnn_cell_equals_two_stacked_layers():
    x = _x()
    stacked = RNN(MultiRNNCell([BasicLSTMCell(N), GRUCell(3)]), return_sequences=True)
    y, params = _apply(stacked, x)
    assert set(params) == {"W_0", "U_0", "b_0", "W_1", "U_1", "b_1"}
    low = {k[:-2]: v for k, v in params.items() if k.endswith("_0")}
    high = {k[:-2]: v for k, v in params.items() if k.endswith("_1")}
    ys = np_run("gru", high, np_run("lstm", low, x)[0])[0]
    np.testing.assert_allclose(y, ys, rtol=1e-4, atol=1e-5)


def test_rnn_of_a_cell_is_the_named_layer():
    x = _x()
    y, params = _apply(RNN(BasicRNNCell(N, activation="sigmoid")), x)
    np.testing.assert_allclose(y, np_run("rnn", params, x, act=_sigmoid)[1], rtol=1e-4,
                               atol=1e-5)
    assert LSTMCell is BasicLSTMCell


# -- dynamic lengths ------------------------------------------------------------------------------

LENGTHS = np.array([5, 2, 0], np.int32)


def _padded(x, lengths):
    x = np.array(x, copy=True)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    return x


@pytest.mark.parametrize("kind, cls", KINDS)
def test_padded_steps_change_neither_output_nor_state(kind, cls):
    x = _padded(_x(), LENGTHS)
    layer = cls(N, dynamic=True, return_state=True, return_sequences=True)
    (ys, *carry), params = _apply(layer, x, LENGTHS)
    ref_ys, _, ref_carry = np_run(kind, params, x, lengths=LENGTHS)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-4, atol=1e-5)
    for got, want in zip(carry, ref_carry, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # each padded row equals its sequence run alone, unpadded
    last_layer = cls(N, return_state=True)
    for i, n in enumerate(LENGTHS[:2]):
        (last, *alone), _ = _apply(last_layer, x[i:i + 1, :n], params=params)
        np.testing.assert_allclose(ys[i, n - 1], last[0], rtol=1e-4, atol=1e-5)
        for got, want in zip(carry, alone, strict=True):
            np.testing.assert_allclose(got[i], want[0], rtol=1e-4, atol=1e-5)
    assert not np.any(ys[1, 2:]) and not np.any(ys[2])  # zeros after each length


def test_dynamic_last_output_is_the_last_real_step():
    x = _padded(_x(), LENGTHS)
    y, params = _apply(LSTM(N, dynamic=True), x, LENGTHS)
    ys, _, _ = np_run("lstm", params, x, lengths=LENGTHS)
    np.testing.assert_allclose(y[0], ys[0, 4], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y[1], ys[1, 1], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(y[2], 0.0)  # an empty sequence outputs zeros


def test_dynamic_bidirectional_reverses_each_sequence_within_its_length():
    x = _padded(_x(), LENGTHS)
    y, params = _apply(Bidirectional(GRU(N, dynamic=True, return_sequences=True)), x, LENGTHS)
    fw = {k[3:]: v for k, v in params.items() if k.startswith("fw_")}
    bw = {k[3:]: v for k, v in params.items() if k.startswith("bw_")}
    ys_bw = np_run("gru", bw, _reverse(x, LENGTHS), lengths=LENGTHS)[0]
    expected = np.concatenate([np_run("gru", fw, x, lengths=LENGTHS)[0],
                               _reverse(ys_bw, LENGTHS)], -1)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_sequence_length_is_the_last_nonzero_step_plus_one():
    ids = np.array([[4, 2, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], np.float32)
    y, _ = SequenceLength().apply({}, {}, jnp.asarray(ids), training=False, key=None)
    np.testing.assert_array_equal(y, [2, 2, 0, 4])
    feats = np.zeros((2, 3, 2), np.float32)
    feats[0, 1, 1] = -1.0
    y, _ = SequenceLength().apply({}, {}, jnp.asarray(feats), training=False, key=None)
    np.testing.assert_array_equal(y, [2, 0])
    assert retrieve_seq_length_op(input_data([None, 3, 2])).shape == (None,)


def test_dynamic_after_embedding_reads_lengths_from_the_ids():
    ids = input_data([None, 6])
    emb = embedding(ids, input_dim=10, output_dim=F)
    out, (c, h) = lstm(emb, N, dynamic=True, return_state=True)
    assert isinstance(out.parent.parents[-1].layer, SequenceLength)
    assert out.parent.parents[-1].parent is ids  # the ids, not the embedded vectors
    model = stackit.DNN([out, c], seed=0)
    x = np.array([[3, 1, 4, 0, 0, 0], [2, 7, 1, 8, 2, 8]], np.float32)
    got_out, got_c = model.predict(x)
    vectors = model.get_weights(emb.W)[x.astype(int)]  # id 0 has a nonzero vector
    params = {k: model.get_weights(f"{out.parent.name}/{k}") for k in ("W", "U", "b")}
    _, last, carry = np_run("lstm", params, vectors, lengths=[3, 6])
    np.testing.assert_allclose(got_out, last, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_c, carry[0], rtol=1e-4, atol=1e-5)


def test_dynamic_on_features_reads_lengths_from_all_zero_steps():
    net = input_data([None, T, F])
    out = gru(net, N, dynamic=True)
    model = stackit.DNN(out, seed=0)
    x = _padded(_x(2), [3, 5])
    params = {k: model.get_weights(getattr(out, k)) for k in ("W", "U", "b")}
    np.testing.assert_allclose(model.predict(x), np_run("gru", params, x, lengths=[3, 5])[1],
                               rtol=1e-4, atol=1e-5)


# -- states ---------------------------------------------------------------------------------------

def test_initial_state_continues_a_sequence():
    x = _x()
    full, params = _apply(LSTM(N, return_sequences=True), x)
    layer = LSTM(N, return_state=True)
    (_, c, h), _ = _apply(layer, x[:, :2], params=params)
    rest, _ = _apply(LSTM(N, return_sequences=True), x[:, 2:], np.asarray(c), np.asarray(h),
                     params=params)
    np.testing.assert_allclose(rest, full[:, 2:], rtol=1e-4, atol=1e-5)


def test_tflearn_functions_return_output_and_state_as_tensorflow():
    net = input_data([None, T, F])
    out, state = lstm(net, N, return_state=True)
    c, h = state
    assert (state.c, state.h) == (c, h)  # TensorFlow's LSTMStateTuple
    assert [t.shape for t in (out, c, h)] == [(None, N)] * 3
    assert out.W == out.parent.W  # parameter handles reach the layer from its outputs
    decoder = lstm(net, N, initial_state=state)  # an encoder's state starts a decoder
    assert decoder.parents[1:] == (c, h)
    out2, state = gru(net, N, return_state=True, return_seq=True)
    assert out2.shape == (None, T, N) and isinstance(state, Tensor) and state.shape == (None, N)
    o, s = simple_rnn(net, N, return_state=True)
    assert isinstance(s, Tensor)
    o, sfw, sbw = bidirectional_rnn(net, BasicLSTMCell(N), GRUCell(2), return_states=True)
    assert o.shape == (None, N + 2) and len(sfw) == 2 and isinstance(sbw, Tensor)
    model = stackit.DNN([out, c, h], seed=0)
    y, c_val, h_val = model.predict(_x())
    np.testing.assert_allclose(y, h_val)  # an LSTM outputs h
    assert not np.allclose(c_val, h_val)


def test_initial_state_from_the_graph_feeds_the_scan():
    seq = input_data([None, T, F], name="seq")
    start = input_data([None, N], name="start")
    out = lstm(seq, N, initial_state=(start, start), return_seq=True)
    model = stackit.DNN(out, seed=0)
    x, s0 = _x(), RNG.normal(size=(B, N)).astype(np.float32)
    params = {k: model.get_weights(f"{out.name}/{k}") for k in ("W", "U", "b")}
    np.testing.assert_allclose(model.predict({"seq": x, "start": s0}),
                               np_run("lstm", params, x, carry=(s0, s0))[0],
                               rtol=1e-4, atol=1e-5)


def test_keras_calls_use_keras_state_order():
    net = input_data([None, T, F])
    out, h, c = LSTM(N, return_state=True)(net)
    assert [t.layer.index for t in (out, h, c)] == [0, 2, 1]  # carry is (c, h)
    h0, c0 = fully_connected(net, N), fully_connected(net, N)
    node = LSTM(N)(net, initial_state=[h0, c0])
    assert node.parents[1:] == (c0, h0)
    outs = Bidirectional(LSTM(N, return_state=True))(net)
    assert [t.layer.index for t in outs] == [0, 2, 1, 4, 3]
    one_side = bidirectional_rnn(net, GRUCell(N), GRUCell(N), initial_state_fw=h0)
    assert one_side.parents[2].layer.fn_name == "zero_state"  # the other side starts at zero


# -- graphs, dropout, names -----------------------------------------------------------------------

def test_return_seq_feeds_dropout_another_lstm_and_fully_connected():
    net = input_data([None, 28, 28])  # tflearn's rnn_pixels
    seq = lstm(net, 8, return_seq=True)
    assert seq.shape == (None, 28, 8)
    net = lstm(dropout(seq, 0.5), 8)
    flat = fully_connected(seq, 3)
    out = fully_connected(net, 10, activation="softmax")
    assert flat.W.layer and out.shape == (None, 10)
    model = stackit.DNN(regression(out), seed=0)
    assert model.predict(RNG.random((2, 28, 28))).shape == (2, 10)


def test_dropout_keep_probabilities_apply_in_training_only():
    x = _x()
    layer = LSTM(N, dropout=0.5, output_dropout=0.5, return_sequences=True)
    plain = LSTM(N, return_sequences=True)
    y_eval, params = _apply(layer, x)
    np.testing.assert_allclose(y_eval, _apply(plain, x, params=params)[0], rtol=1e-6)
    key = jax.random.PRNGKey(1)
    y_train, _ = _apply(layer, x, training=True, key=key, params=params)
    assert np.mean(np.asarray(y_train) == 0.0) > 0.3  # output dropout zeroes about half
    assert not np.allclose(y_train, y_eval)
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        layer.apply(params, {}, [jnp.asarray(x)], training=True, key=None)
    assert lstm(input_data([None, T, F]), N, dropout=(0.8, 0.5)).layer.dropout == \
        pytest.approx(0.2)


def test_tflearn_names_count_up_and_scope_is_exact():
    net = input_data([None, T, F])
    names = [lstm(net, 2).name, lstm(net, 2).name, gru(net, 2, name="enc").name,
             lstm(net, 2, scope="dec").name, bidirectional_rnn(net, GRUCell(2), GRUCell(2)).name]
    assert names == ["LSTM", "LSTM_1", "enc", "dec", "BiRNN"]
    shared = lstm(net, 2, scope="dec", reuse=True)
    assert shared.layer is naming.registered("dec")


def test_logits_are_never_read_from_inside_a_recurrence():
    net = input_data([None, T, F])
    out = simple_rnn(net, 1)  # tflearn's default activation: sigmoid
    model = stackit.DNN(regression(out, loss="binary_crossentropy", metric=None), seed=0)
    assert not model.heads[0].logits


def test_gradients_are_finite_for_every_layer():
    x, lengths = jnp.asarray(_padded(_x(), LENGTHS)), jnp.asarray(LENGTHS)
    for layer in (LSTM(N, dynamic=True, return_sequences=True),
                  Bidirectional(LSTM(N, dynamic=True)),
                  RNN(MultiRNNCell([GRUCell(3), BasicRNNCell(2)]), dynamic=True)):
        params, _, _ = layer.init(jax.random.PRNGKey(0), [(T, F), ()])
        grads = jax.jit(jax.grad(lambda p, layer=layer: jnp.sum(
            layer.apply(p, {}, [x, lengths], training=False, key=None)[0] ** 2)))(params)
        for name, g in grads.items():
            assert np.all(np.isfinite(g)), (layer, name)
            assert np.any(g != 0), (layer, name)


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda n: lstm(input_data([None, 5]), 4), ValueError,
     r"lstm 'LSTM': expected a 3-D input \(batch, time, features\). "
     r"Received: shape=\(None, 5\)"),
    (lambda n: gru(input_data([None, 5, 2, 3]), 4), ValueError, "3-D input"),
    (lambda n: lstm(n, 0), ValueError, r"lstm 'LSTM': n_units must be a positive int. "
                                       r"Received: n_units=0"),
    (lambda n: gru(n, "32"), TypeError, "n_units must be a positive int"),
    (lambda n: lstm(n, 4, activation="foo"), ValueError,
     r"lstm 'LSTM': activation: Unknown activation 'foo'"),
    (lambda n: lstm(n, 4, inner_activation=3), TypeError, "inner_activation"),
    (lambda n: simple_rnn(n, 4, weights_init="nope"), ValueError,
     "weights_init: Unknown initializer 'nope'"),
    (lambda n: lstm(n, 4, dropout=0.0), ValueError, r"keep probabilities must be in \(0, 1\]"),
    (lambda n: lstm(n, 4, dropout=(0.5, 1.5)), ValueError, "keep probabilities"),
    (lambda n: lstm(n, 4, dropout="0.5"), TypeError, "keep probability or a pair"),
    (lambda n: lstm(n, 4, forget_bias="1"), TypeError, "forget_bias must be a number"),
    (lambda n: LSTM(4, dropout=1.0), ValueError, "dropout is a drop rate in"),
    (lambda n: LSTM(4, return_sequences=1), TypeError, "return_sequences must be a bool"),
    (lambda n: lstm(np.zeros((2, 5, 3)), 4), TypeError, "expected the output of a previous"),
    (lambda n: lstm(n, 4, initial_state=np.zeros((2, 4))), TypeError, r"initial_state\[0\]"),
    (lambda n: lstm(n, 4, initial_state=fully_connected(n, 4)), ValueError,
     r"initial_state must be 2 tensor\(s\) of shapes \[\(None, 4\), \(None, 4\)\]"),
    (lambda n: gru(n, 4, initial_state=fully_connected(n, 3)), ValueError,
     r"Received: shapes=\[\(None, 3\)\]"),
    (lambda n: bidirectional_rnn(n, LSTM(4), BasicLSTMCell(4)), TypeError,
     "rnncell_fw must be an RNN cell"),
    (lambda n: Bidirectional(BasicLSTMCell(4)), TypeError, "layer must be a recurrent layer"),
    (lambda n: Bidirectional(LSTM(4), merge_mode="stack"), ValueError, "merge_mode must be"),
    (lambda n: Bidirectional(LSTM(4), merge_mode="sum", backward_layer=LSTM(3)), ValueError,
     "one width"),
    (lambda n: Bidirectional(LSTM(4, dynamic=True), backward_layer=LSTM(4)), ValueError,
     "agree on dynamic"),
    (lambda n: BasicLSTMCell(-1), ValueError, "BasicLSTMCell: num_units must be a positive"),
    (lambda n: MultiRNNCell([]), TypeError, "non-empty list of cells"),
    (lambda n: RNN(None), TypeError, "cell must be an RNN cell"),
    (lambda n: fully_connected(LSTM(4, return_state=True).connect(n), 2), TypeError,
     "yields 3 outputs; connect one of them"),
])
def test_bad_arguments_fail_at_connection_with_a_clear_message(make, error, match):
    with pytest.raises(error, match=match):
        make(input_data([None, T, F]))


# -- configs and saving ---------------------------------------------------------------------------

CONFIG_CASES = [
    LSTM(N, return_sequences=True, dynamic=True, dropout=0.2, name="enc"),
    GRU(3, activation="relu", go_backwards=True, output_dropout=0.1),
    SimpleRNN(2, bias=False, weights_init="truncated_normal", return_state=True),
    RNN(MultiRNNCell([BasicLSTMCell(4, forget_bias=0.5), GRUCell(2)])),
    Bidirectional(LSTM(4), merge_mode="ave", backward_layer=LSTM(4, activation="relu")),
    SequenceLength(),
]


@pytest.mark.parametrize("layer", CONFIG_CASES, ids=lambda la: type(la).__name__)
def test_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    rebuilt = layer_from_config(config)
    assert rebuilt == layer and hash(rebuilt) == hash(layer)
    assert rebuilt.get_config() == layer.get_config()


CONTRACT = [(LSTM(N), [(T, F)]), (GRU(N, return_sequences=True), [(T, F)]),
            (SimpleRNN(N, go_backwards=True), [(T, F)]),
            (RNN(MultiRNNCell([BasicRNNCell(3), GRUCell(2)])), [(T, F)]),
            (Bidirectional(LSTM(N, return_sequences=True)), [(T, F)]),
            (LSTM(N, dropout=0.5, output_dropout=0.5), [(T, F)]),
            (SequenceLength(), (T, F))]


@pytest.mark.parametrize("layer, shape", CONTRACT, ids=lambda c: getattr(c, "name", ""))
def test_contract_shape_jit_determinism(layer, shape):
    """The checks of tests/layers/test_contract.py, for these layers."""
    params, state, out_shape = layer.init(jax.random.PRNGKey(0), shape)
    x = ([jnp.asarray(_x())] if isinstance(shape, list) else jnp.asarray(_x()))

    @jax.jit
    def run(params, x, key):
        return (layer.apply(params, state, x, training=False, key=key)[0],
                layer.apply(params, state, x, training=False, key=jax.random.PRNGKey(5))[0],
                layer.apply(params, state, x, training=True, key=key)[0])

    y_eval, y_other, y_train = run(params, x, jax.random.PRNGKey(3))
    assert y_eval.shape == y_train.shape == (B, *out_shape)
    np.testing.assert_array_equal(y_eval, y_other)
    for leaf in jax.tree.leaves(params):
        assert leaf.dtype == jnp.float32


def test_a_model_with_recurrent_layers_saves_and_loads(tmp_path):
    ids = input_data([None, T])
    emb = embedding(ids, input_dim=12, output_dim=F)
    seq = lstm(emb, N, return_seq=True, dynamic=True, name="first")
    out, state = gru(seq, 3, return_state=True)
    bi = bidirectional_rnn(emb, BasicLSTMCell(2), GRUCell(2), dynamic=True)
    net = fully_connected(stackit.layers.merge([out, state, bi], "concat"), 2,
                          activation="softmax")
    estimator = regression(net)
    model = stackit.DNN(estimator, seed=0)
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 0, 0, 0, 0]], np.float32)
    path = model.save(str(tmp_path / "rnn"))
    loaded = stackit.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    again = stackit.DNN(estimator, seed=1)
    again.load(path)
    np.testing.assert_allclose(again.get_weights(seq.W), model.get_weights(seq.W))


# -- learning -------------------------------------------------------------------------------------

def _order_task(n, length=10, seed=0):
    """Sequences of ids 1..9 holding one 3 and one 7: label 1 when 3 comes before 7."""
    rng = np.random.default_rng(seed)
    others = np.array([1, 2, 4, 5, 6, 8, 9])
    x = rng.choice(others, size=(n, length)).astype(np.float32)
    pos = np.array([rng.choice(length, 2, replace=False) for _ in range(n)])
    x[np.arange(n), pos[:, 0]] = 3
    x[np.arange(n), pos[:, 1]] = 7
    labels = (pos[:, 0] < pos[:, 1]).astype(int)
    return x, np.eye(2, dtype=np.float32)[labels]


def test_an_lstm_learns_whether_3_comes_before_7():
    x, y = _order_task(1200)
    x_test, y_test = _order_task(400, seed=1)
    net = input_data([None, 10])
    net = embedding(net, input_dim=10, output_dim=8)
    net = lstm(net, 16)
    net = fully_connected(net, 2, activation="softmax")
    net = regression(net, optimizer="adam", learning_rate=0.02, batch_size=50)
    model = stackit.DNN(net, seed=0)
    start = time.perf_counter()
    model.fit(x, y, n_epoch=12, verbose=0)
    accuracy = np.mean(model.predict(x_test).argmax(1) == y_test.argmax(1))
    assert accuracy > 0.95, accuracy
    assert time.perf_counter() - start < 20
