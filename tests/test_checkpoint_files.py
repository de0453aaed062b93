"""Checkpoint files that must be refused (naming the file and the field) without touching the
model, and writes that leave nothing behind: stale temporary files, pruning races, Ctrl-C."""

import json
import os
import signal
import zipfile

import numpy as np
import pytest

import stackit
from stackit import checkpoint
from stackit.checkpoint import CheckpointError


def _model(seed=0, checkpoint_path=None, max_checkpoints=None):
    net = stackit.input_data(shape=[None, 4])
    net = stackit.fully_connected(net, 5, activation='relu')
    net = stackit.fully_connected(net, 3, activation='softmax')
    return stackit.DNN(stackit.regression(net, batch_size=4), seed=seed,
                       checkpoint_path=checkpoint_path, max_checkpoints=max_checkpoints)


def _leaves(model):
    import jax
    ts = model.train_state
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.opt_state, ts.step, ts.key))]


def _rewrite(src, dst, *, arrays=None, drop=(), meta=None):
    """Copies the checkpoint `src` to `dst` with arrays replaced/added/dropped and header keys
    changed (`meta` maps key → value; the value `...` deletes the key)."""
    with np.load(src) as data:
        content = {k: data[k] for k in data.files if k not in drop}
    header = json.loads(content['__stackit_meta__'].tobytes().decode())
    for key, value in (meta or {}).items():
        if value is ...:
            header.pop(key, None)
        else:
            header[key] = value
    content['__stackit_meta__'] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    content.update(arrays or {})
    np.savez(dst, **content)
    return str(dst)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp('good')
    model = _model()
    model.fit(np.ones((8, 4), np.float32), np.eye(3)[np.arange(8) % 3], n_epoch=1, verbose=0)
    return model.save(str(folder / 'good'))


@pytest.mark.parametrize(('change', 'pattern'), [
    (dict(meta={'epoch': -3}), r'epoch must be a non-negative integer'),
    (dict(meta={'epoch': 'two'}), r'epoch must be a non-negative integer'),
    (dict(meta={'data_rng': {'bit_generator': 'PCG64', 'state': 'bad'}}),
     r'data_rng is not a shuffling-generator state'),
    (dict(drop=('step',)), r"'step' is missing"),
    (dict(arrays={'step': np.asarray(-1)}), r'step must be a non-negative integer'),
    (dict(arrays={'step': np.asarray(1.5)}), r'step must be a non-negative integer'),
    (dict(arrays={'key': np.zeros(3, np.uint32)}), r'RNG key is uint32\[3\]; expected uint32\[2\]'),
    (dict(arrays={'params/FullyConnected/W': np.full((4, 5), 'x')}), r'expected real numbers'),
    (dict(arrays={'params/FullyConnected/W': np.zeros((4, 5), np.complex64)}),
     r'expected real numbers'),
    (dict(arrays={'params/FullyConnected/W': np.full((4, 5), np.nan, np.float32)}),
     r'NaN or infinite'),
    (dict(arrays={'extra': np.zeros(2)}), r"'extra.npy' is not part of its format"),
], ids=['negative_epoch', 'string_epoch', 'bad_shuffle_state', 'no_step', 'negative_step',
        'float_step', 'key_shape', 'string_params', 'complex_params', 'nan_params',
        'foreign_member'])
def test_bad_files_are_refused_before_the_model_changes(tmp_path, saved, change, pattern):
    bad = _rewrite(saved, tmp_path / 'bad.npz', **change)
    model = _model(seed=1)
    before = _leaves(model)
    epoch, rng_state = model.epoch, model.data_rng.bit_generator.state
    with pytest.raises(CheckpointError, match=pattern):
        model.load(bad)
    for old, now in zip(before, _leaves(model), strict=True):
        np.testing.assert_array_equal(old, now)
    assert model.epoch == epoch and model.data_rng.bit_generator.state == rng_state


def test_a_header_that_is_not_an_object_is_refused(tmp_path, saved):
    with np.load(saved) as data:
        content = {k: data[k] for k in data.files}
    content['__stackit_meta__'] = np.frombuffer(b'[1, 2]', np.uint8)
    np.savez(tmp_path / 'list.npz', **content)
    with pytest.raises(CheckpointError, match='header is not a JSON object'):
        _model().load(str(tmp_path / 'list.npz'))


def test_an_array_declaring_more_bytes_than_the_file_holds_is_refused(tmp_path, saved):
    path = tmp_path / 'huge.npz'
    header = {'descr': '<f4', 'fortran_order': False, 'shape': (10**9, 1000)}
    body = b'\x93NUMPY\x01\x00'
    text = repr(header).encode()
    text += b' ' * (-(len(text) + 11) % 64) + b'\n'
    body += len(text).to_bytes(2, 'little') + text + b'\x00' * 16
    with zipfile.ZipFile(saved) as good, zipfile.ZipFile(path, 'w') as out:
        for info in good.infolist():
            if info.filename != 'params/FullyConnected/W.npy':
                out.writestr(info.filename, good.read(info))
        out.writestr('params/FullyConnected/W.npy', body)
    with pytest.raises(CheckpointError, match=r'declares 4,000,000,000,000 bytes'):
        _model().load(str(path))


def test_paths_that_are_not_files_are_refused(tmp_path, saved):
    model = _model()
    for bad in (None, 3):
        with pytest.raises(TypeError, match='expects a file path'):
            model.save(bad)
        with pytest.raises(TypeError, match='expects a file path'):
            model.load(bad)
    with pytest.raises(ValueError, match='is a folder'):
        model.save(str(tmp_path))
    with pytest.raises(ValueError, match='is a folder'):
        model.load(str(tmp_path))
    pipe = tmp_path / 'x.npz'
    os.mkfifo(pipe)
    with pytest.raises(CheckpointError, match='not a regular file'):
        model.load(str(pipe))  # would block forever if opened


def test_load_model_checks_the_config_against_the_arrays_before_allocating(tmp_path, saved):
    with np.load(saved) as data:
        header = json.loads(data['__stackit_meta__'].tobytes().decode())
    for config in header['graph']['layers']:
        if config['type'] == 'Dense' and config['units'] == 5:
            config['units'] = 10**6  # 4 x 10**6 floats: refused before the model is built
    bad = _rewrite(saved, tmp_path / 'big.npz', meta={'graph': header['graph']})
    with pytest.raises(CheckpointError, match=r'config of layer .* gives W the shape '
                                              r'\(4, 1000000\), but the file holds \(4, 5\)'):
        stackit.load_model(bad)


def test_stale_temporary_files_of_dead_writers_are_removed_on_the_next_save(tmp_path):
    model = _model()
    dead = tmp_path / '.tmp-999999999-abc.npz'  # no process has this id
    alive = tmp_path / f'.tmp-{os.getppid()}-abc.npz'  # the parent runs
    dead.write_bytes(b'partial')
    alive.write_bytes(b'in progress')
    model.save(str(tmp_path / 'm'))
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, 'm.npz']


def test_pruning_survives_a_snapshot_someone_else_removed(tmp_path, monkeypatch):
    model = _model(checkpoint_path=str(tmp_path / 'ckpt'), max_checkpoints=1)
    x, y = np.ones((8, 4), np.float32), np.eye(3)[np.arange(8) % 3]
    real_remove = os.remove

    def remove_twice(path):  # another trainer sharing the prefix deleted it first
        real_remove(path)
        raise FileNotFoundError(path)

    monkeypatch.setattr(os, 'remove', remove_twice)
    model.fit(x, y, n_epoch=3, verbose=0)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ckpt-6.npz']


def test_ctrl_c_during_a_save_finishes_the_file_then_interrupts(tmp_path, monkeypatch):
    model = _model()
    real_savez = np.savez

    def savez_with_ctrl_c(handle, **arrays):
        os.kill(os.getpid(), signal.SIGINT)  # lands in the middle of the write
        real_savez(handle, **arrays)

    monkeypatch.setattr(checkpoint.np, 'savez', savez_with_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        model.save(str(tmp_path / 'm'))
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ['m.npz']
    _model(seed=1).load(str(tmp_path / 'm.npz'))  # complete and loadable
