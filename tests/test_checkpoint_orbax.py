"""orbax-checkpoint folders (`.orbax`), the format of runs over several processes, written and
read in one process here (tests/test_distributed.py writes them from two)."""

import os
import shutil

import jax
import numpy as np
import pytest

import stackit
from stackit import checkpoint, model_io
from stackit.checkpoint import CheckpointError

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
Y = np.eye(3, dtype=np.float32)[np.arange(64) % 3]


def _model(checkpoint_path=None, max_checkpoints=None):
    net = stackit.input_data(shape=[None, 4])
    net = stackit.fully_connected(net, 6, activation='relu')
    net = stackit.batch_normalization(net)
    net = stackit.fully_connected(net, 3, activation='softmax')
    return stackit.DNN(stackit.regression(net, optimizer='adam'), seed=0,
                       checkpoint_path=checkpoint_path, max_checkpoints=max_checkpoints)


def _leaves(model):
    ts = model.train_state
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.layer_state, ts.opt_state,
                                                     ts.step, ts.key))]


def test_an_orbax_folder_holds_what_a_file_holds(tmp_path):
    model = _model()
    model.fit(X, Y, n_epoch=2, batch_size=16, verbose=0)
    folder = model.save(str(tmp_path / 'm.orbax'))
    single = model.save(str(tmp_path / 'm'))
    assert os.path.isdir(folder) and single.endswith('.npz')
    from_folder, from_file = _model(), _model()
    from_folder.load(str(tmp_path / 'm.orbax'))
    from_file.load(single)
    for a, b, c in zip(_leaves(from_folder), _leaves(from_file), _leaves(model), strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
        assert a.dtype == c.dtype
    assert from_folder.epoch == from_file.epoch == 2
    # and the graph it describes rebuilds without the code
    rebuilt = stackit.load_model(folder)
    np.testing.assert_array_equal(rebuilt.predict(X), model.predict(X))


def test_saving_over_a_folder_replaces_it_only_when_the_new_one_is_complete(tmp_path):
    model = _model()
    path = str(tmp_path / 'm.orbax')
    model.save(path)
    before = _leaves(model)
    model.fit(X, Y, n_epoch=1, batch_size=16, verbose=0)
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == ['m.orbax']  # no .new or .old left behind
    again = _model()
    again.load(path)
    for mine, theirs in zip(_leaves(again), _leaves(model), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert any(not np.array_equal(a, b) for a, b in zip(_leaves(again), before, strict=True))


def test_several_processes_snapshot_as_folders_pruned_and_resumed(tmp_path, monkeypatch):
    # the format follows the process count: pretend there are two
    monkeypatch.setattr(checkpoint, 'process_count', lambda: 2)
    prefix = str(tmp_path / 'snap' / 'm')
    whole = _model()
    whole.fit(X, Y, n_epoch=3, batch_size=16, verbose=0)

    class StopAfterEpoch2(stackit.callbacks.Callback):
        def on_epoch_end(self, state):
            state.stop_training = state.epoch >= 2

    first = _model(prefix, max_checkpoints=1)
    first.fit(X, Y, n_epoch=3, batch_size=16, verbose=0, callbacks=[StopAfterEpoch2()])
    # a snapshot after each epoch (steps 4 and 8), pruned to the newest: a folder removed
    assert os.listdir(tmp_path / 'snap') == ['m-8.orbax']
    assert model_io.newest_snapshot(prefix).endswith('m-8.orbax')
    resumed = _model(prefix)
    resumed.fit(X, Y, n_epoch=3, batch_size=16, verbose=0, resume=True)
    assert resumed.epoch == 3
    for mine, theirs in zip(_leaves(resumed), _leaves(whole), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_broken_folders_are_refused_naming_the_folder(tmp_path):
    model = _model()
    path = model.save(str(tmp_path / 'm.orbax'))
    shutil.rmtree(os.path.join(path, 'arrays'))
    with pytest.raises(CheckpointError, match=r'm\.orbax: not a readable stackit checkpoint'):
        _model().load(path)
    # a folder orbax never committed (an interrupted save) is not a checkpoint at all
    os.remove(os.path.join(path, '_CHECKPOINT_METADATA'))
    with pytest.raises(ValueError, match='is a folder'):
        _model().load(path)
    # a model that does not fit the folder's arrays is left as it was
    other = _model()
    other.save(str(tmp_path / 'other.orbax'))
    net = stackit.input_data(shape=[None, 4])
    net = stackit.fully_connected(net, 7)
    small = stackit.DNN(stackit.regression(net), seed=1)
    before = _leaves(small)
    with pytest.raises(CheckpointError, match='other.orbax'):
        small.load(str(tmp_path / 'other'))
    for a, b in zip(_leaves(small), before, strict=True):
        np.testing.assert_array_equal(a, b)
