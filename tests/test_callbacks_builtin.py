"""Tests for the built-in callbacks: EarlyStopping, ModelCheckpoint, CSVLogger, LambdaCallback.

The exact stopping logic is driven with scripted TrainingStates; real fits check the wiring
(a LambdaCallback placed first scripts the monitored value where a test needs exact numbers).
"""

import csv
import math
import os

import jax
import numpy as np
import pytest
from helpers import classification_data

import stackit
from stackit.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    TrainingState,
)
from stackit.checkpoint import CheckpointError
from stackit.layers import batch_normalization, fully_connected, input_data, regression

N_TRAIN, BATCH = 60, 16  # 4 steps per epoch
ATTRIBUTE = {"loss": "loss_value", "acc": "acc_value", "val_loss": "val_loss",
             "val_acc": "val_acc"}


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _data(n, seed=0):
    x, _, y = classification_data(n, 4, 3, seed)
    return x, y


TRAIN, VAL = _data(N_TRAIN), _data(20, seed=1)


def _model(batch_norm=False):
    stackit.layers.reset_default_graph()  # the same layer names each time
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 8, activation="relu")
    if batch_norm:
        net = batch_normalization(net)
    net = fully_connected(net, 3, activation="softmax")
    return stackit.DNN(regression(net, optimizer="sgd", learning_rate=0.1, batch_size=BATCH),
                       seed=0)


@pytest.fixture(scope="module")
def model():
    """One model shared by the tests of this file, so its steps are compiled once."""
    return _model()


def _state(metric_name="acc", **values):
    state = TrainingState(n_epoch=10, steps_per_epoch=1, n_samples=1, batch_size=1,
                          metric_name=metric_name)
    for key, value in values.items():
        setattr(state, ATTRIBUTE[key], value)
    return state


def _drive(callback, values, monitor="val_loss"):
    """Runs the hooks over epochs whose `monitor` takes `values`; returns the epochs run."""
    state = _state(loss=1.0, acc=0.5, val_loss=1.0, val_acc=0.5)
    callback.on_train_begin(state)
    for value in values:
        state.epoch += 1
        setattr(state, ATTRIBUTE[monitor], value)
        callback.on_epoch_end(state)
        if state.stop_training:
            break
    callback.on_train_end(state)
    return state.epoch


def _script(monitor, values, epoch0, record=None):
    """A callback (to place first) that sets the monitored value of epoch `epoch0 + i` to
    `values[i - 1]` and records a host copy of the weights and layer state."""

    def on_epoch_end(state):
        setattr(state, ATTRIBUTE[monitor], values[state.epoch - epoch0 - 1])
        if record is not None:
            ts = record["model"].train_state
            record[state.epoch] = jax.tree.map(np.array, (ts.params, ts.layer_state))

    return LambdaCallback(on_epoch_end=on_epoch_end)


def _leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def _same(a, b):
    la, lb = _leaves(a), _leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


# -- EarlyStopping: the logic ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, values, stopped, best_epoch", [
    ({}, [1.0, 0.9, 0.95, 0.8], 3, 2),                                # patience 0: first stall
    ({"patience": 1}, [1.0, 0.9, 0.95, 0.8], 3, 2),                   # same as Keras
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.92, 0.5], 4, 2),
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.85, 0.9, 0.91, 0.1], 6, 4),  # wait resets at epoch 4
    ({"patience": 1}, [1.0, 0.9, 0.8, 0.7], 0, 4),                    # never stalls
    ({"min_delta": 0.1, "patience": 1}, [1.0, 0.95, 0.5], 2, 1),      # 0.05 is too small
    ({"min_delta": 0.1, "patience": 1}, [1.0, 0.85, 0.8], 3, 2),
    ({"baseline": 0.5, "patience": 2}, [0.9, 0.8, 0.7, 0.4], 2, 2),   # never beats the baseline
    ({"baseline": 0.5, "patience": 2}, [0.9, 0.4, 0.45, 0.3], 0, 4),
    ({"patience": 1}, [1.0, math.nan, 0.5], 2, 1),                    # NaN is no improvement
])
def test_early_stopping_stops_at_the_right_epoch(kwargs, values, stopped, best_epoch):
    callback = EarlyStopping(**kwargs)

    assert _drive(callback, values) == (stopped or len(values))

    assert callback.stopped_epoch == stopped
    assert callback.best_epoch == best_epoch and callback.best == values[best_epoch - 1]


@pytest.mark.parametrize("monitor, mode, values, stopped", [
    ("val_acc", "auto", [0.5, 0.6, 0.55, 0.9], 3),   # auto: max for a metric
    ("acc", "auto", [0.5, 0.4, 0.9], 2),
    ("loss", "auto", [1.0, 1.1, 0.1], 2),             # auto: min for a loss
    ("val_acc", "min", [0.5, 0.6, 0.1], 2),
    ("loss", "max", [1.0, 0.9, 2.0], 2),
])
def test_early_stopping_mode(monitor, mode, values, stopped):
    callback = EarlyStopping(monitor=monitor, mode=mode)
    assert callback.mode == ("min" if mode == "auto" and "loss" in monitor else
                             "max" if mode == "auto" else mode)
    assert _drive(callback, values, monitor=monitor) == stopped


def test_early_stopping_instance_is_reset_by_each_fit():
    callback = EarlyStopping(patience=1)
    assert _drive(callback, [0.1, 0.2]) == 2
    assert _drive(callback, [1.0, 0.9, 0.8]) == 3   # the old best (0.1) is forgotten
    assert callback.best == 0.8 and callback.stopped_epoch == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "bigger"}, "mode must be one of 'auto', 'min', 'max'. Received: mode='bigger'"),
    ({"patience": -1}, "patience must be an int >= 0"),
    ({"patience": 1.5}, "patience must be an int >= 0"),
    ({"min_delta": -0.1}, "min_delta must be a number >= 0"),
])
def test_early_stopping_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


def test_early_stopping_unknown_monitor_fails_at_train_begin_listing_the_keys():
    callback = EarlyStopping(monitor="val_accuracy")
    with pytest.raises(ValueError, match=r"'val_accuracy' is not among the values this fit logs\. "
                                         r"Expected one of: 'loss', 'acc', 'val_loss', 'val_acc'"):
        callback.on_train_begin(_state())


def test_early_stopping_on_val_loss_without_validation_set_names_the_fix(model):
    callback = EarlyStopping(monitor="val_loss")
    epoch0 = model.epoch
    with pytest.raises(ValueError,
                       match=r"Expected one of: 'loss', 'acc', 'lr'\. .*validation_set"):
        model.fit(*TRAIN, n_epoch=3, callbacks=callback, verbose=0)
    assert model.epoch == epoch0  # refused at on_train_begin, before any epoch ran


def test_early_stopping_stops_a_real_fit(model):
    epoch0 = model.epoch
    script = _script("val_loss", [0.9, 0.7, 0.8, 0.75, 0.72, 0.1], epoch0)
    callback = EarlyStopping(patience=3)

    history = model.fit(*TRAIN, n_epoch=6, validation_set=VAL, callbacks=[script, callback],
                        verbose=0)

    assert history.epoch == [epoch0 + 1, epoch0 + 2, epoch0 + 3, epoch0 + 4, epoch0 + 5]
    assert model.epoch == callback.stopped_epoch == epoch0 + 5
    assert callback.best == 0.7 and callback.best_epoch == epoch0 + 2


def test_restore_best_weights_puts_back_the_best_epochs_params_and_layer_state():
    model = _model(batch_norm=True)
    record = {"model": model}
    script = _script("loss", [3.0, 1.0, 2.0, 2.5, 0.1], 0, record)
    callback = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    callback.set_model(model)  # fit will do this itself (see Callback.set_model)

    model.fit(*TRAIN, n_epoch=5, callbacks=[script, callback], verbose=0)

    assert callback.stopped_epoch == 4 and callback.best_epoch == 2
    assert not _same(record[2], record[4])
    assert _leaves(record[2][1])  # batch norm's moving averages are part of what is restored
    ts = model.train_state
    assert _same((ts.params, ts.layer_state), record[2])
    assert model.epoch == 4  # only the weights go back, not the epoch or step counters
    model.fit(*TRAIN, n_epoch=1, verbose=0)  # and training goes on from them


def test_restore_best_weights_needs_the_model():
    with pytest.raises(ValueError, match=r"set_model\(model\)"):
        EarlyStopping(restore_best_weights=True).on_train_begin(_state())


# -- ModelCheckpoint ---------------------------------------------------------------------------

def test_model_checkpoint_formats_the_file_names(model, tmp_path):
    callback = ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}"))
    callback.set_model(model)

    history = model.fit(*TRAIN, n_epoch=3, validation_set=VAL, callbacks=callback, verbose=0)

    expected = {f"ckpt-{epoch:02d}-{val_loss:.3f}.npz"
                for epoch, val_loss in zip(history.epoch, history.history["val_loss"],
                                           strict=True)}
    assert set(os.listdir(tmp_path)) == expected


def test_model_checkpoint_save_best_only_writes_on_improvement(model, tmp_path):
    epoch0 = model.epoch
    script = _script("val_acc", [0.5, 0.7, 0.6, 0.7, 0.8], epoch0)
    callback = ModelCheckpoint(str(tmp_path / "best-{epoch}"), monitor="val_acc",
                               save_best_only=True)
    callback.set_model(model)

    model.fit(*TRAIN, n_epoch=5, validation_set=VAL, callbacks=[script, callback], verbose=0)

    assert set(os.listdir(tmp_path)) == {f"best-{epoch0 + i}.npz" for i in (1, 2, 5)}
    assert callback.best == 0.8


def test_model_checkpoint_file_loads_back_into_an_identical_model(tmp_path):
    model = _model(batch_norm=True)
    record = {"model": model}
    script = _script("val_loss", [1.0, 0.5, 0.7], 0, record)
    best = ModelCheckpoint(str(tmp_path / "best"), save_best_only=True)
    last = ModelCheckpoint(str(tmp_path / "last"))
    for callback in (best, last):
        callback.set_model(model)

    model.fit(*TRAIN, n_epoch=3, validation_set=VAL, callbacks=[script, best, last], verbose=0)

    restored = _model(batch_norm=True)
    restored.load(str(tmp_path / "last"))
    assert _same(restored.train_state, model.train_state)  # params, state, optimizer, step, key
    assert restored.epoch == model.epoch == 3
    np.testing.assert_array_equal(restored.predict(VAL[0]), model.predict(VAL[0]))
    restored.load(str(tmp_path / "best.npz"))
    ts = restored.train_state
    assert _same((ts.params, ts.layer_state), record[2]) and restored.epoch == 2


def test_model_checkpoint_save_weights_only(model, tmp_path):
    callback = ModelCheckpoint(str(tmp_path / "weights.npz"), save_weights_only=True)
    callback.set_model(model)
    model.fit(*TRAIN, n_epoch=1, callbacks=callback, verbose=0)

    restored = _model()
    restored.load(str(tmp_path / "weights.npz"), weights_only=True)

    assert _same(restored.train_state.params, model.train_state.params)
    np.testing.assert_array_equal(restored.predict(VAL[0]), model.predict(VAL[0]))
    with pytest.raises(CheckpointError, match="holds weights only.*weights_only=True"):
        restored.load(str(tmp_path / "weights.npz"))


@pytest.mark.parametrize("filepath, match", [
    ("ckpt-{val_accuracy:.3f}", r"'val_accuracy' is not among .* Expected one of: 'epoch', "
                                r"'step', 'loss', 'acc', 'val_loss', 'val_acc'"),
    ("ckpt-{loss:d}", r"filepath cannot be formatted"),
])
def test_model_checkpoint_bad_filepath_fails_at_train_begin(filepath, match):
    callback = ModelCheckpoint(filepath)
    callback.set_model(object())
    with pytest.raises(ValueError, match=match):
        callback.on_train_begin(_state())


@pytest.mark.parametrize("filepath", ["ckpt-{}", "ckpt-{0}", "ckpt-{epoch"])
def test_model_checkpoint_rejects_unnamed_or_broken_fields(filepath):
    with pytest.raises(ValueError, match="filepath"):
        ModelCheckpoint(filepath)


def test_model_checkpoint_needs_the_model():
    with pytest.raises(ValueError, match=r"modelcheckpoint\.set_model\(model\)"):
        ModelCheckpoint("ckpt").on_train_begin(_state())


# -- CSVLogger ---------------------------------------------------------------------------------

def _read_csv(path, separator=","):
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=separator))


def test_csv_logger_rows_match_the_history(model, tmp_path):
    path = tmp_path / "logs" / "train.csv"
    rows_seen = []
    check = LambdaCallback(on_epoch_end=lambda state: rows_seen.append(len(_read_csv(path))))

    history = model.fit(*TRAIN, n_epoch=3, validation_set=VAL,
                        callbacks=[CSVLogger(path), check], verbose=0)

    header, *rows = _read_csv(path)
    assert header == ["epoch", "loss", "acc", "val_loss", "val_acc", "lr"]
    assert [int(row[0]) for row in rows] == history.epoch
    for column, key in enumerate(header[1:], start=1):
        assert [float(row[column]) for row in rows] == history.history[key]
    assert rows_seen == [2, 3, 4]  # header + one flushed row per finished epoch


def test_csv_logger_append_and_overwrite(model, tmp_path):
    path = str(tmp_path / "train.csv")
    model.fit(*TRAIN, n_epoch=2, callbacks=CSVLogger(path, separator=";"), verbose=0)
    history = model.fit(*TRAIN, n_epoch=1, callbacks=CSVLogger(path, separator=";", append=True),
                        verbose=0)

    header, *rows = _read_csv(path, ";")
    assert header == ["epoch", "loss", "acc", "lr"] and len(rows) == 3
    assert int(rows[-1][0]) == history.epoch[0]

    model.fit(*TRAIN, n_epoch=1, callbacks=CSVLogger(path), verbose=0)
    assert len(_read_csv(path)) == 2


# -- LambdaCallback ----------------------------------------------------------------------------

def test_lambda_callback_calls_each_function_with_the_state(model):
    calls = []

    def hook(name):
        return lambda state: calls.append((name, state.epoch, isinstance(state, TrainingState)))

    callback = LambdaCallback(**{name: hook(name) for name in (
        "on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")})
    epoch0 = model.epoch
    model.fit(*TRAIN, n_epoch=2, callbacks=callback, verbose=0)

    assert all(ok for *_, ok in calls)
    names = [name for name, *_ in calls]
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    ends = [epoch for name, epoch, _ in calls if name == "on_epoch_end"]
    assert ends == [epoch0 + 1, epoch0 + 2] and names.count("on_epoch_begin") == 2
    assert "on_batch_end" in names

    partial = LambdaCallback(on_epoch_end=lambda state: calls.append("only"))
    partial.on_train_begin(_state())  # the hooks not given do nothing


def test_lambda_callback_rejects_what_is_not_callable():
    with pytest.raises(TypeError, match="on_epoch_end must be a function f\\(state\\)"):
        LambdaCallback(on_epoch_end="print")


# -- fit hands the model to callbacks ----------------------------------------------------------

def test_fit_gives_each_callback_the_model(model):
    seen = []

    class Probe(Callback):
        def on_train_begin(self, state):
            seen.append(self.model)

    model.fit(*TRAIN, n_epoch=1, callbacks=Probe(), verbose=0)
    assert seen == [model]
