"""`model.export` / `stackit.load_exported`: the artifact computes what `predict` does, at any
batch size, without the model's code; bad paths, files and calls are refused clearly."""

import os

import jax
import numpy as np
import pytest
from jax import export as jax_export

import stackit
from stackit.layers import (
    Dense,
    batch_normalization,
    conv_2d,
    dropout,
    embedding,
    fully_connected,
    input_data,
    lstm,
    max_pool_2d,
    merge,
    regression,
)

HERE = jax_export.default_export_platform()


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _rows(rng, n, *shape):
    return rng.normal(size=(n, *shape)).astype(np.float32)


def _mlp(seed=0):
    net = input_data(shape=[None, 5])
    net = fully_connected(net, 8, activation="relu")
    net = fully_connected(net, 3, activation="softmax")
    return stackit.DNN(regression(net), seed=seed)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_mlp_artifact_equals_predict_at_new_batch_sizes(tmp_path, rng):
    model = _mlp()
    x = _rows(rng, 16, 5)
    model.fit_batch(x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)])  # not the init
    path = model.export(str(tmp_path / "mlp"))
    assert path == str(tmp_path / "mlp.jaxexport") and os.path.isfile(path)
    run = stackit.load_exported(path)
    for n in (1, 7, 33):  # one artifact, any batch size
        x = _rows(rng, n, 5)
        out = run(x)
        assert isinstance(out, np.ndarray) and out.shape == (n, 3)
        _close(out, model.predict(x))
    assert run.input_shapes == ((None, 5),) and run.platforms == (HERE,)
    _close(stackit.load_exported(tmp_path / "mlp")(x), model.predict(x))  # extension optional


def test_conv_batch_norm_dropout_runs_in_inference_mode(tmp_path, rng):
    net = input_data(shape=[None, 6, 6, 2])
    net = conv_2d(net, 4, 3, activation="relu")
    net = batch_normalization(net)
    net = max_pool_2d(net, 2)
    net = dropout(net, 0.5)
    net = fully_connected(net, 3, activation="softmax")
    model = stackit.DNN(regression(net), seed=0)
    x = _rows(rng, 16, 6, 6, 2) * 3.0 + 1.0  # moving statistics move away from 0 / 1
    model.fit(x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)], n_epoch=1,
              batch_size=8, show_metric=False)
    run = stackit.load_exported(model.export(tmp_path / "conv"))
    x = _rows(rng, 5, 6, 6, 2)
    out = run(x)
    _close(out, model.predict(x))
    np.testing.assert_array_equal(run(x), out)  # no dropout: deterministic
    _close(run(x[:1]), out[:1])  # each sample on its own: no batch statistics


def test_two_inputs_two_outputs_in_input_order(tmp_path, rng):
    a = input_data(shape=[None, 3], name="a")
    b = input_data(shape=[None, 2], name="b")
    h = fully_connected(merge([a, b], "concat"), 4, activation="tanh")
    model = stackit.Model(inputs=[a, b], outputs=[Dense(1)(h), Dense(2)(h)], seed=3)
    run = stackit.load_exported(model.export(tmp_path / "two"))
    assert run.input_shapes == ((None, 3), (None, 2))
    xa, xb = _rows(rng, 9, 3), _rows(rng, 9, 2)
    want = model.predict([xa, xb])
    for got in (run(xa, xb), run([xa, xb])):
        assert isinstance(got, list) and [o.shape for o in got] == [(9, 1), (9, 2)]
        for g, w in zip(got, want, strict=True):
            _close(g, w)


def test_lstm(tmp_path, rng):
    net = input_data(shape=[None, 4, 3])
    net = lstm(net, 5)
    net = fully_connected(net, 2, activation="softmax")
    model = stackit.DNN(regression(net), seed=0)
    run = stackit.load_exported(model.export(tmp_path / "lstm"))
    x = _rows(rng, 3, 4, 3)
    _close(run(x), model.predict(x))


def test_integer_input_takes_whole_float_ids(tmp_path, rng):
    net = input_data(shape=[None, 4], dtype="int32")
    net = embedding(net, input_dim=10, output_dim=3)
    model = stackit.DNN(fully_connected(net, 2), seed=0)
    run = stackit.load_exported(model.export(tmp_path / "emb"))
    ids = rng.integers(0, 10, (6, 4))
    _close(run(ids.astype(np.float32)), model.predict(ids))
    with pytest.raises(ValueError, match="whole numbers"):
        run(ids + 0.5)


def test_plain_jax_export_reads_the_file(tmp_path, rng):
    model = _mlp()
    path = model.export(tmp_path / "plain")
    with open(path, "rb") as handle:
        exported = jax_export.deserialize(bytearray(handle.read()))
    assert exported.platforms == (HERE,)
    assert jax_export.is_symbolic_dim(exported.in_avals[0].shape[0])
    x = _rows(rng, 11, 5)
    _close(np.asarray(exported.call(x)), model.predict(x))


def test_several_platforms(tmp_path, rng):
    other = "cuda" if HERE != "cuda" else "cpu"
    model = _mlp()
    run = stackit.load_exported(model.export(tmp_path / "both", platforms=(HERE, other)))
    assert run.platforms == (HERE, other)
    x = _rows(rng, 2, 5)
    _close(run(x), model.predict(x))
    only_other = model.export(tmp_path / "other", platforms=other)
    with pytest.raises(ValueError, match=f"exported for \\('{other}',\\).*platforms="):
        stackit.load_exported(only_other)


@pytest.mark.parametrize("platforms, error, match", [
    ("gpu", ValueError, "unknown platform 'gpu' .*'cuda' for NVIDIA"),
    (("cpu", "bogus"), ValueError, "unknown platform 'bogus'"),
    ((), ValueError, "platforms is empty"),
    (3, TypeError, "platform name or a sequence"),
])
def test_bad_platforms_write_nothing(tmp_path, platforms, error, match):
    with pytest.raises(error, match=match):
        _mlp().export(tmp_path / "m", platforms=platforms)
    assert os.listdir(tmp_path) == []


def test_paths_follow_save(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match="is a folder"):
        model.export(tmp_path)
    with pytest.raises(ValueError, match="is a folder"):
        stackit.load_exported(tmp_path)
    with pytest.raises(TypeError, match="file path"):
        model.export(None)
    mine = tmp_path / "model"
    mine.write_text("a user's file")
    assert model.export(mine) == str(mine) + ".jaxexport"
    assert mine.read_text() == "a user's file"  # only `<path>.jaxexport` is written
    assert sorted(os.listdir(tmp_path)) == ["model", "model.jaxexport"]
    with pytest.raises(FileNotFoundError, match="no file .*nope"):
        stackit.load_exported(tmp_path / "nope")


def test_files_that_are_not_exports(tmp_path):
    model = _mlp()
    (tmp_path / "empty.jaxexport").write_bytes(b"")
    (tmp_path / "junk.jaxexport").write_bytes(b"certainly not a flatbuffer" * 3)
    saved = model.save(str(tmp_path / "ckpt"))
    expected = "Expected a file written by model.export"
    with pytest.raises(ValueError, match=f"is empty. {expected}"):
        stackit.load_exported(tmp_path / "empty")
    with pytest.raises(ValueError, match=expected):
        stackit.load_exported(tmp_path / "junk.jaxexport")
    with pytest.raises(ValueError, match="zip archive .*stackit.load_model"):
        stackit.load_exported(saved)
    spec = {"x": jax.ShapeDtypeStruct((2,), np.float32)}  # another jax.export artifact
    other = jax_export.export(jax.jit(lambda d: d["x"] * 2.0))(spec)
    (tmp_path / "dict.jaxexport").write_bytes(bytes(other.serialize()))
    with pytest.raises(ValueError, match="nested arguments.*jax.export.deserialize"):
        stackit.load_exported(tmp_path / "dict")


def test_bad_calls(tmp_path, rng):
    a = input_data(shape=[None, 3], name="a")
    b = input_data(shape=[None, 2], name="b")
    model = stackit.Model(inputs=[a, b], outputs=Dense(1)(merge([a, b], "concat")), seed=0)
    run = stackit.load_exported(model.export(tmp_path / "two"))
    xa, xb = _rows(rng, 4, 3), _rows(rng, 4, 2)
    with pytest.raises(ValueError, match=r"takes 2 input\(s\).*Received: 1"):
        run(xa)
    with pytest.raises(ValueError, match=r"input 1 must have shape \(None, 2\).*\(4, 3\)"):
        run(xa, xa)
    with pytest.raises(ValueError, match=r"input 0 must have shape .*\(4,\)"):
        run(xa[:, 0], xb)
    with pytest.raises(ValueError, match="same number of samples.*\\[4, 3\\]"):
        run(xa, xb[:3])
    with pytest.raises(ValueError, match="no samples"):
        run(xa[:0], xb[:0])
    with pytest.raises(TypeError, match="must be numeric"):
        run(np.array([["x"] * 3]), xb[:1])


def test_models_with_nothing_to_export(tmp_path):
    with pytest.raises(ValueError, match="no outputs to export"):
        stackit.Sequential().export(tmp_path / "m")
    with pytest.raises(ValueError, match="no input shape yet.*build"):
        stackit.Sequential([Dense(2)]).export(tmp_path / "m")
    assert os.listdir(tmp_path) == []


def test_parameters_are_those_at_export_time(tmp_path, rng):
    model = _mlp()
    run = stackit.load_exported(model.export(tmp_path / "m"))
    x = _rows(rng, 3, 5)
    before = model.predict(x)
    model.set_weights("FullyConnected_1/b", np.array([5.0, 0.0, 0.0], np.float32))
    _close(run(x), before)  # the values at export time are baked in
    assert not np.allclose(model.predict(x), before)
