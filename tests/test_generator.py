"""SequenceGenerator: a DNN that learns a next-token model and generates sequences with it."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

import stackit
from stackit.generator import (
    SequenceGenerator,
    reverse_dictionary,
    sample,
    tempered_probabilities,
)

TEXT = "hello world " * 20
MAXLEN = 5
CHAR_IDX = {c: i for i, c in enumerate(sorted(set(TEXT)))}
N_CHARS = len(CHAR_IDX)


def windows(tokens, maxlen, n_tokens, one_hot=True):
    """Every window of `maxlen` tokens (indices) and the token after it, one-hot."""
    starts = range(len(tokens) - maxlen)
    x = np.array([tokens[i:i + maxlen] for i in starts])
    y = np.eye(n_tokens, dtype=np.float32)[[tokens[i + maxlen] for i in starts]]
    return (np.eye(n_tokens, dtype=np.float32)[x] if one_hot else x.astype(np.int32)), y


def char_network(n_tokens=N_CHARS, maxlen=MAXLEN, **regression_kwargs):
    """A flattened window -> softmax over the tokens: a next-token model for periodic text."""
    net = stackit.input_data([None, maxlen, n_tokens])
    dense = stackit.fully_connected(net, n_tokens, activation="softmax")
    regression_kwargs.setdefault("learning_rate", 0.1)
    return dense, stackit.regression(dense, **regression_kwargs)


def constant_model(p, seed=0):
    """A generator over len(p) index tokens whose output is `p` whatever the window."""
    dense, net = char_network(len(p))
    model = SequenceGenerator(net, seq_maxlen=MAXLEN, seed=seed)
    model.set_weights(dense.W, np.zeros_like(model.get_weights(dense.W)))
    model.set_weights(dense.b, np.log(np.asarray(p, np.float32)))
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A generator trained on TEXT, with snapshots under checkpoint_path."""
    ckpt = tmp_path_factory.mktemp("gen") / "gen"
    _, net = char_network()
    model = SequenceGenerator(net, dictionary=CHAR_IDX, seq_maxlen=MAXLEN,
                              checkpoint_path=str(ckpt), max_checkpoints=1, seed=0)
    x, y = windows([CHAR_IDX[c] for c in TEXT], MAXLEN, len(CHAR_IDX))
    model.fit(x, y, n_epoch=20, verbose=0)
    return model, x, y, ckpt


# -- learning and generating ------------------------------------------------------------------
def test_learns_a_repeating_text_and_continues_it(trained):
    model, x, y, ckpt = trained
    assert isinstance(model, stackit.DNN)
    assert model.evaluate(x, y) == [1.0]
    for start in (0, 3, 7):
        seed = TEXT[start:start + MAXLEN]
        for temperature in (0.0, 0.05):
            out = model.generate(30, temperature=temperature, seq_seed=seed)
            assert out == TEXT[start:start + MAXLEN + 30]   # the seed, then the continuation
    # fit wrote snapshots like DNN's (max_checkpoints=1 keeps one)
    snaps = [f for f in os.listdir(ckpt.parent) if f.startswith("gen-")]
    assert len(snaps) == 1 and snaps[0].endswith(".npz")


def test_list_seed_returns_a_list_of_tokens(trained):
    model = trained[0]
    out = model.generate(7, temperature=0.0, seq_seed=list("hello"))
    assert out == list("hello world ")
    assert model.generate(0, seq_seed="hello") == "hello"


def test_word_tokens_and_index_inputs():
    """Word tokens in a list, fed as indices to an int input (as before an embedding)."""
    words = {"the": 0, "cat": 1, "sat": 2, "down": 3}
    tokens = [0, 1, 2, 3] * 12
    x, y = windows(tokens, 3, 4, one_hot=False)
    net = stackit.input_data([None, 3], dtype="int32")
    net = stackit.fully_connected(net, 16, activation="relu")
    net = stackit.fully_connected(net, 4, activation="softmax")
    net = stackit.regression(net, learning_rate=0.05)
    model = SequenceGenerator(net, dictionary=words, seq_maxlen=3, seed=0)
    model.fit(x, y, n_epoch=60, verbose=0)
    out = model.generate(5, temperature=0.0, seq_seed=["the", "cat", "sat"])
    assert out == ["the", "cat", "sat", "down", "the", "cat", "sat", "down"]


def test_display_prints_the_seed_then_each_token(trained, capsys):
    out = trained[0].generate(7, temperature=0.0, seq_seed="hello", display=True)
    assert capsys.readouterr().out == out + "\n" == "hello world \n"


def test_generation_reuses_one_compiled_predict(trained, monkeypatch):
    model = trained[0]
    traces = []

    def predict(params, layer_state, x):
        traces.append(1)  # runs only while tracing
        return model.steps._predict(params, layer_state, x)

    monkeypatch.setattr(model.steps, "predict_batch", jax.jit(predict))
    model.generate(20, temperature=1.0, seq_seed="hello", seed=0)
    model.generate(20, temperature=0.0, seq_seed="world")
    assert len(traces) == 1


# -- sampling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.25, 0.5, 1.0, 2.0])
def test_tempered_probabilities_follow_the_formula(temperature):
    p = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    expected = p ** (1 / temperature) / np.sum(p ** (1 / temperature))
    np.testing.assert_allclose(tempered_probabilities(p, temperature), expected, rtol=1e-12)


def test_small_and_zero_temperatures_tend_to_the_argmax():
    p = np.array([0.2, 0.45, 0.35], np.float32)
    np.testing.assert_allclose(tempered_probabilities(p, 1e-6), [0, 1, 0])   # no overflow
    np.testing.assert_array_equal(tempered_probabilities(p, 0), [0, 1, 0])
    np.testing.assert_array_equal(tempered_probabilities([0.4, 0.4, 0.2], 0), [0.5, 0.5, 0])
    rng = np.random.default_rng(0)
    assert {sample(p, 0.0, rng) for _ in range(50)} == {1}


def test_generate_draws_from_the_tempered_distribution():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    for temperature in (0.5, 1.5):
        model = constant_model(p)
        out = model.generate(4000, temperature=temperature, seq_seed=[0] * MAXLEN, seed=1)
        freq = np.bincount(out[MAXLEN:], minlength=4) / 4000
        q = p ** (1 / temperature) / np.sum(p ** (1 / temperature))  # independent of the code
        np.testing.assert_allclose(freq, q, atol=0.025)


def test_same_seed_same_text():
    p = [0.25, 0.25, 0.25, 0.25]
    seed = [0] * MAXLEN
    a, b = constant_model(p, seed=3), constant_model(p, seed=3)
    first = a.generate(40, temperature=1.0, seq_seed=seed)
    assert b.generate(40, temperature=1.0, seq_seed=seed) == first   # the model's seed
    assert a.generate(40, temperature=1.0, seq_seed=seed) != first   # the stream goes on
    assert a.generate(40, 1.0, seed, seed=9) == b.generate(40, 1.0, seed, seed=9)
    assert a.generate(40, 1.0, seed, seed=9) != a.generate(40, 1.0, seed, seed=10)


# -- persistence and training options ---------------------------------------------------------
def test_save_load_round_trip_generates_the_same_text(trained, tmp_path):
    model = trained[0]
    path = model.save(str(tmp_path / "charnet"))
    _, net = char_network()
    restored = SequenceGenerator(net, dictionary=CHAR_IDX, seq_maxlen=MAXLEN, seed=123)
    restored.load(path)
    for kwargs in ({"temperature": 0.0}, {"temperature": 2.0, "seed": 5}):
        assert restored.generate(40, seq_seed="world", **kwargs) == \
            model.generate(40, seq_seed="world", **kwargs)


def global_norm(tree):
    return float(np.sqrt(sum(np.sum(np.square(v)) for v in jax.tree.leaves(tree))))


@pytest.mark.parametrize("clip", [0.0, 1e-3])
def test_clip_gradients_reaches_the_optimizer(clip):
    x, y = windows([CHAR_IDX[c] for c in TEXT[:40]], MAXLEN, len(CHAR_IDX))
    _, net = char_network(optimizer="sgd", learning_rate=1.0)
    kwargs = {} if clip == 0.0 else {"clip_gradients": clip}   # tflearn's default is 0.0
    model = SequenceGenerator(net, dictionary=CHAR_IDX, seq_maxlen=MAXLEN, seed=0, **kwargs)
    assert model.clip_gradients == clip
    before = jax.device_get(model.train_state.params)
    model.fit_batch(x, y)
    after = jax.device_get(model.train_state.params)
    moved = global_norm(jax.tree.map(np.subtract, after, before))
    if clip:
        assert moved == pytest.approx(clip, rel=1e-3)   # sgd(lr=1) moves by the clipped grads
    else:
        assert moved > 100 * 1e-3


# -- errors -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def untrained():
    _, net = char_network()
    return SequenceGenerator(net, dictionary=CHAR_IDX, seq_maxlen=MAXLEN, seed=0)


@pytest.mark.parametrize("seq_seed, error, match", [
    (None, ValueError, "generate needs seq_seed"),
    ("hell", ValueError, r"seq_maxlen=5 tokens .* Received: 4 tokens"),
    (list("hello world"), ValueError, "Received: 11 tokens"),
    ("HELLO", ValueError, r"not in the dictionary: \['H', 'E', 'L', 'O'\]"),
    (["hello", "w", "o", "r", "l"], ValueError, r"not in the dictionary: \['hello'\]"),
    (12345, TypeError, "seq_seed must be a string or a list of tokens"),
])
def test_bad_seeds_are_refused(untrained, seq_seed, error, match):
    with pytest.raises(error, match=match):
        untrained.generate(3, seq_seed=seq_seed)


def test_string_seed_for_word_tokens_and_index_tokens():
    _, net = char_network(n_tokens=2, maxlen=2)
    words = SequenceGenerator(net, dictionary={"hello": 0, "world": 1}, seq_maxlen=2)
    with pytest.raises(ValueError, match="A string seed is read one character at a time"):
        words.generate(2, seq_seed="hw")
    indices = constant_model([0.5, 0.5])
    with pytest.raises(ValueError, match=r"tokens are indices 0..n-1. Received: \[2, -1\]"):
        indices.generate(2, seq_seed=[0, 2, -1, 1, 1])
    assert indices.generate(2, 0.0, np.zeros(MAXLEN, np.int64))[:MAXLEN] == [0] * MAXLEN


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": -0.5}, "temperature must be a finite number >= 0"),
    ({"temperature": float("nan")}, "temperature must be"),
    ({"temperature": "1"}, "temperature must be"),
    ({"seq_length": -1}, "seq_length must be an int >= 0"),
    ({"seq_length": 2.5}, "seq_length must be"),
])
def test_bad_generate_arguments_are_refused(untrained, kwargs, match):
    kwargs = {"seq_length": 3, "seq_seed": "hello", **kwargs}
    with pytest.raises(ValueError, match=match):
        untrained.generate(**kwargs)


def test_network_and_dictionary_must_agree():
    with pytest.raises(ValueError, match=r"input_data\(\[None, 5, 8\]\).*\(None, 5, 9\)"):
        SequenceGenerator(char_network(n_tokens=9)[1], dictionary=CHAR_IDX, seq_maxlen=MAXLEN)
    with pytest.raises(ValueError, match=r"seq_maxlen=6 .*\(None, 5, 8\)"):
        SequenceGenerator(char_network()[1], dictionary=CHAR_IDX, seq_maxlen=6)
    net = stackit.input_data([None, MAXLEN, len(CHAR_IDX)])
    net = stackit.regression(stackit.fully_connected(net, 3, activation="softmax"))
    with pytest.raises(ValueError, match=r"one probability per token, shape \(None, 8\)"):
        SequenceGenerator(net, dictionary=CHAR_IDX, seq_maxlen=MAXLEN)
    with pytest.raises(ValueError, match="distinct indices 0..1"):
        SequenceGenerator(char_network(2)[1], dictionary={"a": 0, "b": 2}, seq_maxlen=MAXLEN)
    with pytest.raises(TypeError, match="dictionary must be a non-empty dict"):
        SequenceGenerator(char_network()[1], dictionary=["a", "b"], seq_maxlen=MAXLEN)
    with pytest.raises(ValueError, match="seq_maxlen must be a positive int"):
        SequenceGenerator(char_network()[1], dictionary=CHAR_IDX, seq_maxlen=0)


def test_reverse_dictionary_and_facade_modules():
    assert reverse_dictionary({"a": 0, "b": 1}) == {0: "a", 1: "b"}
    from stackit import models
    from stackit.models.dnn import DNN
    from stackit.models.generator import SequenceGenerator as Facade

    assert models.SequenceGenerator is Facade is SequenceGenerator
    assert models.DNN is DNN is stackit.DNN


def test_char_lstm_learns_a_repeating_text_and_writes_it_on(tmp_path):
    """tflearn's char-RNN recipe end to end: semi-redundant windows of a text, an LSTM, and
    `generate` continuing a seed taken from the text."""
    import random

    from stackit.data_utils import random_sequence_from_string, string_to_semi_redundant_sequences

    text = "the quick brown fox. " * 12
    x, y, char_idx = string_to_semi_redundant_sequences(text, seq_maxlen=8, redun_step=1)
    net = stackit.input_data([None, 8, len(char_idx)])
    net = stackit.lstm(net, 32)
    net = stackit.fully_connected(net, len(char_idx), activation="softmax")
    net = stackit.regression(net, optimizer="adam", learning_rate=0.02,
                             loss="categorical_crossentropy")
    model = SequenceGenerator(net, dictionary=char_idx, seq_maxlen=8, clip_gradients=5.0,
                              seed=1)
    model.fit(x, y, n_epoch=15, batch_size=32, verbose=0)
    random.seed(3)
    seed = random_sequence_from_string(text, 8)
    written = model.generate(30, temperature=0.0, seq_seed=seed)
    assert written.startswith(seed) and len(written) == 38
    start = text.index(seed)             # the text is periodic: its continuation is known
    assert written == (text * 2)[start:start + 38]
