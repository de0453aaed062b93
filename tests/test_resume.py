"""Runs that never lose work: `fit(resume=True)` continues bitwise where a run stopped, even
mid-epoch, and Ctrl-C stops cleanly after writing a snapshot."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

import stackit
from stackit.model_io import newest_snapshot

N, BATCH = 600, 8  # 75 steps an epoch: three dispatches of 25 steps


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 6)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, N)]


def _model(checkpoint_path):
    net = stackit.input_data(shape=[None, 6])
    net = stackit.fully_connected(net, 16, activation='relu')
    net = stackit.batch_normalization(net)
    net = stackit.dropout(net, 0.7)
    net = stackit.fully_connected(net, 3, activation='softmax')
    net = stackit.regression(net, batch_size=BATCH)
    return stackit.DNN(net, checkpoint_path=checkpoint_path, seed=3)


def _leaves(model):
    ts = model.train_state
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.layer_state, ts.opt_state,
                                                    ts.step, ts.key))]


def _fit(model, **kwargs):
    x, y = _data()
    return model.fit(x, y, n_epoch=3, snapshot_step=40, shuffle=True, verbose=0, **kwargs)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    """The run without interruption: (model, history, folder of its snapshots)."""
    folder = tmp_path_factory.mktemp('full')
    model = _model(str(folder / 'm'))
    return model, _fit(model), folder


def test_resuming_from_snapshots_ends_bitwise_where_the_uninterrupted_run_ends(tmp_path,
                                                                               uninterrupted):
    full, history, full_folder = uninterrupted
    snapshots = sorted(glob.glob(str(full_folder / 'm-*.npz')),
                       key=lambda p: int(p[:-4].rsplit('-', 1)[1]))
    steps = [int(p[:-4].rsplit('-', 1)[1]) for p in snapshots]
    assert steps == [50, 75, 100, 125, 150, 175, 200, 225]  # mid-epoch ones between epochs

    for i, snapshot in enumerate([snapshots[0], snapshots[5]]):  # mid-epoch, in epochs 1 and 3
        folder = tmp_path / f'run{i}'
        folder.mkdir()
        shutil.copy(snapshot, folder)  # as if the run had been killed right after it
        resumed = _model(str(folder / 'm'))
        again = _fit(resumed, resume=True)
        for mine, theirs in zip(_leaves(resumed), _leaves(full), strict=True):
            np.testing.assert_array_equal(mine, theirs)
        assert resumed.epoch == 3
        # the epochs it finished log the same numbers as the uninterrupted run
        finished = len(again.history['loss'])
        assert again.history['loss'] == pytest.approx(history.history['loss'][-finished:],
                                                      rel=1e-6)

    done = _model(str(full_folder / 'm'))
    assert _fit(done, resume=True).history == {}  # a finished run is left as it is
    assert done.epoch == 3


def test_resume_needs_a_checkpoint_path_and_starts_afresh_without_a_snapshot(tmp_path, capsys):
    with pytest.raises(ValueError, match='checkpoint_path'):
        _fit(_model(None), resume=True)
    fresh = _model(str(tmp_path / 'none' / 'm'))
    _fit(fresh, resume=True)
    assert fresh.epoch == 3
    assert newest_snapshot(str(tmp_path / 'none' / 'm')).endswith('m-225.npz')


_SCRIPT = textwrap.dedent('''
    import glob, os, sys, time
    sys.path.insert(0, {tests!r})
    import stackit
    from test_resume import _data, _fit, _model

    class HoldAfterFirstSnapshot(stackit.callbacks.Callback):
        """Waits, once a snapshot is on disk, until the test has sent its signal (it then
        creates `release`): the signal always lands mid-run, however fast the machine."""

        def __init__(self, prefix, release):
            self.prefix, self.release, self.held = prefix, release, False

        def on_batch_end(self, state):
            if self.release and not self.held and glob.glob(self.prefix + "-*.npz"):
                self.held = True
                deadline = time.time() + 120
                while not os.path.exists(self.release) and time.time() < deadline:
                    time.sleep(0.02)

    model = _model(sys.argv[1])
    hold = HoldAfterFirstSnapshot(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    try:
        _fit(model, resume=True, callbacks=[hold])
    except KeyboardInterrupt:
        print("INTERRUPTED", model.epoch, flush=True)
        raise SystemExit(3)
    print("DONE", model.epoch, flush=True)
''')


def _run_script(tmp_path, prefix, *, signal_after=None, sig=signal.SIGKILL):
    """Runs the training script; with `signal_after`, sends `sig` once its first snapshot is
    written (the script holds there until the signal is sent)."""
    script = tmp_path / 'train.py'
    script.write_text(_SCRIPT.format(tests=os.path.dirname(__file__)))
    release = tmp_path / 'release'
    args = [sys.executable, str(script), prefix]
    if signal_after is not None:
        args.append(str(release))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if signal_after is None:
        out, _ = proc.communicate(timeout=300)
        return proc.returncode, out
    deadline = time.time() + 120
    while not glob.glob(prefix + '-*.npz') and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(signal_after)
    proc.send_signal(sig)
    time.sleep(0.2)  # let the handler run before the script moves on
    release.touch()
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def test_a_killed_subprocess_resumes_bitwise(tmp_path, uninterrupted):
    full = uninterrupted[0]
    prefix = str(tmp_path / 'killed' / 'm')
    code, _ = _run_script(tmp_path, prefix, signal_after=0.0)
    assert code == -signal.SIGKILL
    assert newest_snapshot(prefix) is not None
    code, out = _run_script(tmp_path, prefix)
    assert code == 0 and 'DONE 3' in out, out
    resumed = _model(prefix)
    resumed.load(newest_snapshot(prefix))
    for mine, theirs in zip(_leaves(resumed), _leaves(full), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_ctrl_c_writes_a_snapshot_then_stops_and_the_run_resumes(tmp_path, uninterrupted):
    prefix = str(tmp_path / 'interrupted' / 'm')
    code, out = _run_script(tmp_path, prefix, signal_after=0.0, sig=signal.SIGINT)
    assert code == 3, out
    assert 'Ctrl-C' in out and 'INTERRUPTED' in out
    saved = newest_snapshot(prefix)
    assert saved is not None and 'snapshot' in out and saved in out
    assert not glob.glob(str(tmp_path / 'interrupted' / '.tmp-*'))
    code, out = _run_script(tmp_path, prefix)
    assert code == 0 and 'DONE 3' in out, out
    resumed = _model(prefix)
    resumed.load(newest_snapshot(prefix))
    for mine, theirs in zip(_leaves(resumed), _leaves(uninterrupted[0]), strict=True):
        np.testing.assert_array_equal(mine, theirs)


class _CtrlCAt(stackit.callbacks.Callback):
    """Presses Ctrl-C (SIGINT to this process) once, at the first refresh past `step`."""

    def __init__(self, step):
        self.step, self.sent = step, False

    def on_batch_end(self, state):
        if not self.sent and state.step >= self.step:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize('step', [75, 100], ids=['last_step_of_an_epoch', 'mid_epoch'])
def test_ctrl_c_in_process_saves_the_state_it_stopped_at(tmp_path, uninterrupted, step):
    prefix = str(tmp_path / 'm')
    model = _model(prefix)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, callbacks=[_CtrlCAt(step)])
    saved = newest_snapshot(prefix)
    assert saved.endswith(f'm-{step}.npz')
    resumed = _model(prefix)
    _fit(resumed, resume=True)
    for mine, theirs in zip(_leaves(resumed), _leaves(uninterrupted[0]), strict=True):
        np.testing.assert_array_equal(mine, theirs)
