"""LearningRateScheduler and ReduceLROnPlateau: the rates they set, at the epochs they set them,
in the history, the progress line and checkpoints (a resumed run stays bitwise the same)."""

from __future__ import annotations

import glob
import shutil

import jax
import numpy as np
import optax
import pytest
from helpers import classification_data

import stackit
from stackit.callbacks import (
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TrainingState,
)
from stackit.layers import fully_connected, input_data, regression

N, BATCH = 64, 16  # 4 steps per epoch


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _data(n=N):
    x, _, y = classification_data(n, 4, 3)
    return x, y


def _model(optimizer="sgd", learning_rate=0.1, batch_size=BATCH, **dnn_kwargs):
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 8, activation="relu")
    net = fully_connected(net, 3, activation="softmax")
    return stackit.DNN(regression(net, optimizer=optimizer, learning_rate=learning_rate,
                                  batch_size=batch_size), seed=0, **dnn_kwargs)


def f32(values):
    return [float(np.float32(v)) for v in values]


# -- LearningRateScheduler ------------------------------------------------------------------------

def test_scheduler_sets_exactly_fn_of_epoch_and_lr_at_each_epoch_start(capsys):
    calls = []

    def fn(epoch, lr):
        calls.append((epoch, lr))
        return 0.2 * 0.5 ** epoch + lr / 100

    model = _model()
    history = model.fit(*_data(), n_epoch=3, callbacks=LearningRateScheduler(fn, verbose=1),
                        verbose=2)
    assert [epoch for epoch, _ in calls] == [0, 1, 2]
    assert calls[0][1] == float(np.float32(0.1))  # the optimizer's own rate, as stored
    expected = []
    for epoch, lr in calls:
        expected.append(float(np.float32(0.2 * 0.5 ** epoch + lr / 100)))
    assert history.history["lr"] == expected  # exactly fn(epoch, lr), as float32
    assert [lr for _, lr in calls[1:]] == expected[:-1]  # fn sees the rate it set last
    out = capsys.readouterr().out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.10201." in out
    assert f"| lr {expected[0]:.3g} |" in out  # the progress line shows the rate
    # a second fit goes on counting epochs; fn(epoch) of one argument works too
    more = model.fit(*_data(), n_epoch=2, callbacks=LearningRateScheduler(lambda e: 0.01 * e),
                     verbose=0)
    assert more.history["lr"] == f32([0.03, 0.04])


@pytest.mark.parametrize("fn, error, match", [
    (lambda epoch, lr: "0.1", TypeError, r"must be a number.*schedule\(0, 0.1"),
    (lambda epoch, lr: -lr, ValueError, "finite number >= 0"),
    (lambda epoch, lr: float("inf"), ValueError, "finite number >= 0"),
], ids=["string", "negative", "inf"])
def test_scheduler_refuses_a_bad_rate(fn, error, match):
    with pytest.raises(error, match=match):
        _model().fit(*_data(), n_epoch=1, callbacks=LearningRateScheduler(fn), verbose=0)


def test_lr_callbacks_refuse_an_optimizer_without_a_rate_before_training():
    model = _model(optax.sgd(0.1))
    for callback in (LearningRateScheduler(lambda e, lr: lr), ReduceLROnPlateau("loss")):
        with pytest.raises(ValueError, match="holds a learning rate it could change"):
            model.fit(*_data(), n_epoch=1, callbacks=callback, verbose=0)
    assert model.epoch == 0
    with pytest.raises(TypeError, match="schedule must be a function"):
        LearningRateScheduler(0.1)


# -- ReduceLROnPlateau ----------------------------------------------------------------------------

# A hand-computed trace: factor 0.5, patience 2, cooldown 1, min_delta 0.01, min_lr 0.02.
LOSSES = [1.00, 0.995, 0.98, 0.99, 0.98, 0.97, 0.975, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96]
#  epoch:  1     2      3     4     5     6     7      8     9     10    11    12    13
#  wait:   0     1      0     1     2→R   1     2→R    0     1     2→R   1     2     3
#  (R: reduce at the epoch's end; the cooldown epoch after it counts no wait, and epoch 6's
#  0.97 is not below best 0.98 - min_delta; from epoch 12 the rate is at min_lr: no change)
RATES = [0.1] * 5 + [0.05] * 2 + [0.025] * 3 + [0.02] * 3


def _scripted(values, attribute="loss_value"):
    """A callback (placed first) that makes the monitored value of epoch e be values[e - 1]."""
    def set_value(state):
        setattr(state, attribute, values[state.epoch - 1])
    return LambdaCallback(on_epoch_end=set_value)


def test_reduce_on_plateau_follows_a_hand_computed_trace(capsys):
    reduce = ReduceLROnPlateau("loss", factor=0.5, patience=2, min_delta=0.01, cooldown=1,
                               min_lr=0.02, verbose=1)
    history = _model().fit(*_data(), n_epoch=len(LOSSES), callbacks=[_scripted(LOSSES), reduce],
                           verbose=0)
    assert history.history["lr"] == f32(RATES)
    said = [line for line in capsys.readouterr().out.splitlines() if "ReduceLROnPlateau" in line]
    assert said == ["Epoch 5: ReduceLROnPlateau reducing learning rate to 0.05.",
                    "Epoch 7: ReduceLROnPlateau reducing learning rate to 0.025.",
                    "Epoch 10: ReduceLROnPlateau reducing learning rate to 0.02."]
    assert reduce.best == 0.96 and reduce.wait == 3 and reduce.cooldown_counter == 0


def _drive(callback, values, rate=1.0, **state_kwargs):
    """The hooks over epochs whose monitored `val_acc` takes `values`; the rates after each."""
    state = TrainingState(n_epoch=len(values), steps_per_epoch=1, n_samples=1, batch_size=1,
                          metric_name="acc", has_validation=True, **state_kwargs)
    state.learning_rates = {"Regression": rate}
    state.lr_writer = lambda lr, names: state.learning_rates.update(dict.fromkeys(names, lr))
    callback.on_train_begin(state)
    rates = []
    for value in values:
        state.epoch += 1
        state.loss_value, state.val_acc = 1.0, value
        callback.on_epoch_end(state)
        rates.append(state.learning_rate)
    return rates


def test_reduce_on_plateau_on_a_metric_to_maximize_with_patience_0():
    reduce = ReduceLROnPlateau("val_acc", factor=0.1, patience=0, min_delta=0.0)
    assert reduce.mode == "max"
    assert _drive(reduce, [0.5, 0.6, 0.6, 0.55, 0.7]) == pytest.approx([1, 1, 0.1, 0.01, 0.01])
    nan = _drive(ReduceLROnPlateau("val_acc", patience=1), [0.5, float("nan")])
    assert nan == pytest.approx([1.0, 0.1])  # a NaN is no progress
    assert _drive(reduce, [0.5, 0.4]) == pytest.approx([1.0, 0.1])  # reset at train begin


@pytest.mark.parametrize("kwargs, match", [
    ({"factor": 1.0}, r"factor must be a number in \[0, 1\)"),
    ({"factor": -0.5}, r"factor must be a number in \[0, 1\)"),
    ({"patience": -1}, "patience must be an int >= 0"),
    ({"cooldown": 1.5}, "cooldown must be an int >= 0"),
    ({"min_lr": -1e-3}, "min_lr must be a number >= 0"),
    ({"mode": "up"}, "mode must be one of"),
    ({"min_delta": -1}, "min_delta must be a number >= 0"),
], ids=["factor_1", "factor_negative", "patience", "cooldown", "min_lr", "mode", "min_delta"])
def test_reduce_on_plateau_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(**kwargs)


def test_reduce_on_plateau_refuses_a_value_this_fit_never_logs():
    with pytest.raises(ValueError, match=r"'val_loss' is not among.*validation_set"):
        _model().fit(*_data(), n_epoch=1, callbacks=ReduceLROnPlateau(), verbose=0)


# -- checkpoints ----------------------------------------------------------------------------------

def _leaves(model):
    ts = model.train_state
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.opt_state, ts.step, ts.key))]


def test_a_run_with_a_scheduler_resumes_bitwise_from_mid_epoch_snapshots(tmp_path):
    """160 samples in batches of 4: 40 steps per epoch in 2 dispatches, a snapshot at each."""
    x, y = _data(160)

    def run(prefix, resume=False):
        model = _model("adam", 0.01, batch_size=4, checkpoint_path=prefix)
        halve = LearningRateScheduler(lambda epoch, lr: lr * 0.5)  # depends on the rate: a
        history = model.fit(x, y, n_epoch=3, snapshot_step=20, verbose=0, resume=resume,
                            callbacks=halve)  # resumed epoch must not halve it twice
        return model, history

    full, history = run(str(tmp_path / "full" / "m"))
    assert history.history["lr"] == f32([0.005, 0.0025, 0.00125])
    for step in (20, 100):  # mid-epoch, in epochs 1 and 3
        folder = tmp_path / f"from{step}"
        folder.mkdir()
        shutil.copy(tmp_path / "full" / f"m-{step}.npz", folder)
        resumed, again = run(str(folder / "m"), resume=True)
        for mine, theirs in zip(_leaves(resumed), _leaves(full), strict=True):
            np.testing.assert_array_equal(mine, theirs)
        finished = len(again.history["lr"])
        assert again.history["lr"] == history.history["lr"][-finished:]
    assert len(glob.glob(str(tmp_path / "full" / "m-*.npz"))) == 6
