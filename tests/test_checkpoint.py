"""Tests for model checkpoints: exact round trips, exact resumption, snapshot rotation, and
refusing corrupt or mismatched files without half-loading them."""

import os

import jax
import numpy as np
import pytest

import stackit
from stackit import checkpoint
from stackit.callbacks import Callback
from stackit.checkpoint import CheckpointError
from stackit.layers import dropout, fully_connected, input_data, regression


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _model(seed=0, hidden=8, extra_layer=False, **dnn_kwargs):
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 4])
    net = fully_connected(net, hidden, activation="relu")
    net = dropout(net, 0.8)
    net = fully_connected(net, 3, activation="softmax")
    if extra_layer:
        net = fully_connected(net, 3, activation="softmax")
    net = regression(net, optimizer="adam", learning_rate=0.01, batch_size=16)
    return stackit.DNN(net, seed=seed, **dnn_kwargs)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 50)]


def _leaves(model):
    ts = model.train_state
    return [np.asarray(leaf) for leaf in jax.tree.leaves(
        (ts.params, ts.layer_state, ts.opt_state, ts.step, jax.random.key_data(ts.key)
         if jax.dtypes.issubdtype(ts.key.dtype, jax.dtypes.prng_key) else ts.key))]


def _assert_same_state(a, b):
    left, right = _leaves(a), _leaves(b)
    assert len(left) == len(right)
    for x, y in zip(left, right, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------------------ round trip


def test_resuming_from_a_checkpoint_continues_exactly(tmp_path):
    x, y = _data()
    uninterrupted = _model()
    full = uninterrupted.fit(x, y, n_epoch=2, shuffle=True, verbose=0)

    first_half = _model()
    first_half.fit(x, y, n_epoch=1, shuffle=True, verbose=0)
    path = first_half.save(str(tmp_path / "half"))
    assert path == str(tmp_path / "half.npz")

    resumed = _model()
    resumed.load(str(tmp_path / "half"))
    # params, layer state, optimizer state, step and RNG all restored exactly
    _assert_same_state(resumed, first_half)
    assert int(resumed.train_state.step) == 4
    assert resumed.epoch == 1

    second = resumed.fit(x, y, n_epoch=1, shuffle=True, verbose=0)

    _assert_same_state(resumed, uninterrupted)
    assert second.epoch == [2]
    assert second.history["loss"] == full.history["loss"][1:]


# ------------------------------------------------------------------------------ snapshots


def _checkpoint_files(folder):
    return sorted(os.listdir(folder))


def test_max_checkpoints_keeps_only_the_latest_snapshot(tmp_path):
    x, y = _data()
    model = _model(checkpoint_path=str(tmp_path / "ckpt"), max_checkpoints=1)

    model.fit(x, y, n_epoch=3, snapshot_epoch=True, verbose=0)

    assert _checkpoint_files(tmp_path) == ["ckpt-12.npz"]  # 4 steps per epoch
    restored = _model(seed=9)
    restored.load(str(tmp_path / "ckpt-12.npz"), weights_only=True)
    for name in ("FullyConnected/W", "FullyConnected/b", "FullyConnected_1/W"):
        np.testing.assert_array_equal(restored.get_weights(name), model.get_weights(name))
    assert int(restored.train_state.step) == 0 and restored.epoch == 0  # weights only
    restored.load(str(tmp_path / "ckpt-12.npz"))
    _assert_same_state(restored, model)
    assert restored.epoch == 3


class _CoarseClock(Callback):
    """Gives every file in `folder` the same modification time, as a filesystem with
    one- or two-second timestamps (HFS+, FAT) does for snapshots taken in quick succession."""

    def __init__(self, folder):
        self.folder = folder

    def on_epoch_end(self, state):
        for name in os.listdir(self.folder):
            os.utime(os.path.join(self.folder, name), (1_000_000_000, 1_000_000_000))


def test_max_checkpoints_keeps_the_latest_snapshots_when_timestamps_tie(tmp_path):
    x, y = _data()
    model = _model(checkpoint_path=str(tmp_path / "ckpt"), max_checkpoints=2)

    model.fit(x, y, n_epoch=4, snapshot_epoch=True, callbacks=[_CoarseClock(tmp_path)],
              verbose=0)

    assert _checkpoint_files(tmp_path) == ["ckpt-12.npz", "ckpt-16.npz"]


# ------------------------------------------------------------------------------ refused files


def test_truncated_or_corrupt_files_are_refused_and_nothing_is_loaded(tmp_path):
    source = _model()
    source.save(str(tmp_path / "good"))
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.npz").write_bytes(b"not a checkpoint at all" * 10)
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    target = _model(seed=1)
    before = _leaves(target)

    with pytest.raises(CheckpointError, match=r"truncated\.npz.*truncated or corrupt"):
        target.load(str(tmp_path / "truncated.npz"))
    with pytest.raises(CheckpointError, match=r"garbage\.npz.*truncated or corrupt"):
        target.load(str(tmp_path / "garbage.npz"))
    with pytest.raises(CheckpointError, match=r"foreign\.npz.*not a stackit checkpoint"):
        target.load(str(tmp_path / "foreign.npz"))
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        target.load(str(tmp_path / "missing.npz"))

    for old, now in zip(before, _leaves(target), strict=True):
        np.testing.assert_array_equal(old, now)


def test_an_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model = _model()
    path = model.save(str(tmp_path / "m"))
    good = (tmp_path / "m.npz").read_bytes()

    def crash(handle, **arrays):
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(str(tmp_path / "m"))
    monkeypatch.undo()

    assert _checkpoint_files(tmp_path) == ["m.npz"]  # no temporary file left behind
    assert (tmp_path / "m.npz").read_bytes() == good
    model.load(path)


@pytest.mark.parametrize(("saved", "loading", "pattern"), [
    ({"hidden": 8}, {"hidden": 16},
     r"FullyConnected: W is \(4, 8\) in the file, \(4, 16\) in this model"),
    ({}, {"extra_layer": True}, r"this model has more layers.*'FullyConnected_2'"),
    ({"extra_layer": True}, {}, r"FullyConnected_2"),
], ids=["different_shape", "missing_layer", "extra_layer"])
def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, saved, loading, pattern):
    path = _model(**saved).save(str(tmp_path / "other"))
    target = _model(seed=1, **loading)
    before = _leaves(target)

    with pytest.raises(CheckpointError, match=pattern):
        target.load(path)

    for old, now in zip(before, _leaves(target), strict=True):
        np.testing.assert_array_equal(old, now)


def test_layers_with_restore_false_keep_their_values_for_fine_tuning(tmp_path):
    """tflearn's fine-tuning: restore the features, keep the new (differently shaped) head."""
    x = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)

    def build(classes, restore_head, seed):
        stackit.layers.reset_default_graph()
        net = stackit.input_data(shape=[None, 6])
        net = stackit.fully_connected(net, 5, activation="relu")
        net = stackit.fully_connected(net, classes, activation="softmax", restore=restore_head)
        return stackit.DNN(stackit.regression(net), seed=seed)

    pretrained = build(3, True, seed=0)
    pretrained.fit(x, np.eye(3)[np.arange(20) % 3], n_epoch=1, verbose=0)
    path = pretrained.save(str(tmp_path / "pretrained"))

    with pytest.raises(stackit.checkpoint.CheckpointError, match="FullyConnected_1: W is"):
        build(4, True, seed=1).load(path)
    tuned = build(4, False, seed=1)
    head_before = tuned.get_weights("FullyConnected_1/W")
    tuned.load(path)

    np.testing.assert_array_equal(tuned.get_weights("FullyConnected/W"),
                                  pretrained.get_weights("FullyConnected/W"))
    np.testing.assert_array_equal(tuned.get_weights("FullyConnected_1/W"), head_before)
    tuned.fit(x, np.eye(4)[np.arange(20) % 4], n_epoch=1, verbose=0)  # the new head trains


def test_pruning_snapshots_never_touches_other_files_with_the_same_prefix(tmp_path):
    x, y = _data()
    model = _model(checkpoint_path=str(tmp_path / "ckpt"), max_checkpoints=1,
                   best_checkpoint_path=str(tmp_path / "ckpt-best"))
    model.save(str(tmp_path / "ckpt-final"))

    model.fit(x, y, n_epoch=3, validation_set=0.2, verbose=0)

    files = _checkpoint_files(tmp_path)
    assert "ckpt-final.npz" in files and "ckpt-9.npz" in files  # 3 steps per epoch
    assert not {"ckpt-3.npz", "ckpt-6.npz"} & set(files)
    assert any(name.startswith("ckpt-best") for name in files)


def test_load_model_rebuilds_the_architecture_from_the_file_alone(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4, 4, 1)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    stackit.layers.reset_default_graph()
    prep = stackit.ImagePreprocessing()
    prep.add_featurewise_zero_center()
    net = input_data(shape=[None, 4, 4, 1], data_preprocessing=prep)
    a = stackit.conv_2d(net, 2, 3, activation="relu")
    b = stackit.batch_normalization(stackit.conv_2d(net, 2, 3))
    net = dropout(stackit.merge([a, b], "concat", axis=3), 0.8)
    net = fully_connected(net, 3, activation="softmax")
    model = stackit.DNN(regression(net, optimizer=stackit.Momentum(0.05), metric=stackit.Top_k(2),
                                   batch_size=16), seed=4, clip_gradients=1.0)
    model.fit(x, y, n_epoch=1, verbose=0)
    path = model.save(str(tmp_path / "whole"))

    stackit.layers.reset_default_graph()
    rebuilt = stackit.load_model(str(tmp_path / "whole"))

    assert [type(layer) for layer in rebuilt.net.layers] == [type(layer)
                                                             for layer in model.net.layers]
    assert rebuilt.clip_gradients == 1.0 and rebuilt.epoch == 1
    np.testing.assert_array_equal(rebuilt.predict(x), model.predict(x))
    model.fit(x, y, n_epoch=1, verbose=0)  # both continue the same run
    rebuilt.fit(x, y, n_epoch=1, verbose=0)
    for left, right in zip(_leaves(model), _leaves(rebuilt), strict=True):
        np.testing.assert_array_equal(left, right)
    assert path.endswith(".npz")


def test_load_model_explains_when_a_layer_cannot_be_described(tmp_path):
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 3, activation=lambda v: v * 2)
    model = stackit.DNN(regression(net, loss="mean_square"), seed=0)
    model.save(str(tmp_path / "custom"))
    with pytest.raises(CheckpointError, match=r"Build the network in code, then call "
                                              r"model.load\("):
        stackit.load_model(str(tmp_path / "custom.npz"))
