"""Tests for TensorBoard logs: `DNN(tensorboard_verbose=..., tensorboard_dir=...)` and the
`TensorBoard` callback, read back with TensorBoard's own event reader."""

import re
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import classification_data, mlp

import stackit
from stackit.callbacks import ReduceLROnPlateau, TensorBoard, TrainingState
from stackit.callbacks import tensorboard as tensorboard_module

pytest.importorskip("tensorboardX")
accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

N_TRAIN, N_VAL, BATCH = 48, 16, 16  # 3 steps per epoch
X, _, Y = classification_data(N_TRAIN + N_VAL, 4, 3)
VAL = (X[N_TRAIN:], Y[N_TRAIN:])
X, Y = X[:N_TRAIN], Y[:N_TRAIN]


def _model(**dnn_kwargs) -> stackit.DNN:
    *_, net = mlp(4, 8, 3, optimizer="sgd", learning_rate=0.1, batch_size=BATCH,
                  metric="accuracy")
    return stackit.DNN(net, seed=0, **dnn_kwargs)


def _read(folder):
    """The events of one run folder: ({tag: [(step, value)]}, {tag: [(step, histogram)]})."""
    events = accumulator.EventAccumulator(str(folder),
                                          size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    tags = events.Tags()
    scalars = {t: [(e.step, e.value) for e in events.Scalars(t)] for t in tags["scalars"]}
    histograms = {t: [(e.step, e.histogram_value) for e in events.Histograms(t)]
                  for t in tags["histograms"]}
    return scalars, histograms


def test_level_0_writes_the_history_loss_metric_validation_and_learning_rate(tmp_path):
    model = _model(tensorboard_dir=tmp_path, tensorboard_verbose=0)
    # lowers the rate at every epoch end, after the epoch's `lr` is logged
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    history = model.fit(X, Y, n_epoch=3, validation_set=VAL, show_metric=True, run_id="run",
                        verbose=0, callbacks=plateau)
    assert model.tensorboard.run_dir == str(tmp_path / "run")
    train, train_histograms = _read(tmp_path / "run" / "train")
    validation, _ = _read(tmp_path / "run" / "validation")

    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05])
    for key in ("loss", "acc", "lr"):
        assert [step for step, _ in train[f"epoch_{key}"]] == [1, 2, 3]
        assert [v for _, v in train[f"epoch_{key}"]] == pytest.approx(history.history[key],
                                                                        rel=1e-6)
    for key in ("loss", "acc"):
        assert [v for _, v in validation[f"epoch_{key}"]] == pytest.approx(
            history.history[f"val_{key}"], rel=1e-6)
    # at each refresh: the epoch's running values, by step; the last one of an epoch is the
    # epoch's value
    assert {"batch_loss", "batch_acc", "batch_lr"} <= set(train)
    last_of_epoch = {step: value for step, value in train["batch_loss"]}
    assert [last_of_epoch[3 * e] for e in (1, 2, 3)] == pytest.approx(history.history["loss"],
                                                                       rel=1e-6)
    assert not any(tag.startswith("batch_") for tag in validation)
    assert train_histograms == {}  # level 0: scalars only


def test_level_2_writes_a_histogram_of_every_parameter(tmp_path):
    model = _model(tensorboard_dir=tmp_path, tensorboard_verbose=2)
    model.fit(X, Y, n_epoch=2, run_id="hist", verbose=0)
    _, histograms = _read(tmp_path / "hist" / "train")
    params = model.train_state.params
    weights = {f"{layer}/{name}" for layer in params for name in params[layer]}
    assert set(histograms) == weights | {f"{tag}/gradient" for tag in weights}
    histograms = {tag: events for tag, events in histograms.items() if tag in weights}
    for tag, events in histograms.items():
        steps = [step for step, _ in events]
        assert steps == sorted(set(steps)) and steps[-1] == 6  # at refreshes, once per step
        layer, name = tag.split("/")
        weights = np.asarray(params[layer][name], np.float64)
        last = events[-1][1]
        assert last.num == weights.size == sum(last.bucket)
        assert last.min == pytest.approx(weights.min()) and last.max == pytest.approx(weights.max())
        assert last.sum == pytest.approx(weights.sum(), abs=1e-5)
        assert last.sum_squares == pytest.approx((weights ** 2).sum(), rel=1e-5)
        assert len(last.bucket) == len(last.bucket_limit)


def _reference_gradients(params, x, y):
    """Hand-written gradients of the MLP's mean softmax cross-entropy on one batch."""

    def loss(p):
        hidden = jax.nn.relu(x @ p["FullyConnected"]["W"] + p["FullyConnected"]["b"][None])
        logits = hidden @ p["FullyConnected_1"]["W"] + p["FullyConnected_1"]["b"][None]
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits), axis=1))

    grads = jax.grad(loss)(jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params))
    return jax.tree.map(np.asarray, grads)


def test_level_1_writes_gradient_norms_and_histograms_before_clipping(tmp_path):
    *_, net = mlp(4, 8, 3, optimizer="sgd", learning_rate=0.0, batch_size=BATCH)
    model = stackit.DNN(net, seed=0, tensorboard_dir=tmp_path, tensorboard_verbose=1,
                        clip_gradients=1e-3)  # clipping applies after the summaries
    params = jax.device_get(model.train_state.params)  # learning rate 0: constant
    with jax.enable_x64():
        per_batch = [_reference_gradients(params, X[i:i + BATCH].astype(np.float64),
                                          Y[i:i + BATCH].astype(np.float64))
                     for i in range(0, N_TRAIN, BATCH)]
    model.fit(X, Y, n_epoch=2, shuffle=False, run_id="grads", verbose=0)
    scalars, histograms = _read(tmp_path / "grads" / "train")
    assert not any(tag.count("/") == 1 for tag in histograms)  # no weight histograms at 1
    squares = [sum(float(np.sum(g ** 2)) for g in jax.tree.leaves(grads)) for grads in per_batch]
    steps = [step for step, _ in scalars["gradient_global_norm"]]
    assert steps == [3, 6]  # one window of 3 steps per refresh (each epoch is one chunk)
    for _, value in scalars["gradient_global_norm"]:
        assert value == pytest.approx(np.sqrt(np.mean(squares)), rel=1e-4)
    for layer in params:
        for name in params[layer]:
            norms = [np.sum(grads[layer][name] ** 2) for grads in per_batch]
            events = scalars[f"{layer}/{name}/gradient_norm"]
            assert [v for _, v in events] == pytest.approx([np.sqrt(np.mean(norms))] * 2,
                                                           rel=1e-4)
            last = per_batch[-1][layer][name]  # the histogram is of the last step's gradient
            histogram = histograms[f"{layer}/{name}/gradient"][-1][1]
            assert histogram.num == last.size
            assert histogram.min == pytest.approx(last.min(), abs=1e-6)
            assert histogram.max == pytest.approx(last.max(), abs=1e-6)
            assert histogram.sum_squares == pytest.approx(np.sum(last ** 2), rel=1e-4)


def test_level_0_gathers_no_gradients(tmp_path):
    model = _model(tensorboard_dir=tmp_path, tensorboard_verbose=0)
    assert not model.tensorboard.gradient_summaries
    model.fit(X, Y, n_epoch=1, run_id="none", verbose=0)
    assert model._fit_state.gradients == {}
    assert not any(kind == "train" for kind, _ in model.steps._compiled)  # the plain chunk


def test_keras_style_callback_writes_into_log_dir_at_epoch_ends(tmp_path):
    model = _model()
    assert model.tensorboard is None  # no tensorboard_* argument: no logs
    board = TensorBoard(tmp_path / "logs", histogram_freq=2, update_freq="epoch")
    history = model.fit(X, Y, n_epoch=4, verbose=0, callbacks=[board])
    assert board.run_dir == str(tmp_path / "logs")
    assert not (tmp_path / "logs" / "validation").exists()  # no validation set
    scalars, histograms = _read(tmp_path / "logs" / "train")
    assert set(scalars) == {f"epoch_{key}" for key in history.history}
    assert [step for step, _ in histograms["FullyConnected/W"]] == [6, 12]  # epochs 2 and 4


def test_a_per_class_metric_is_one_scalar_per_class_and_a_matrix_is_left_out(tmp_path):
    board = TensorBoard(tmp_path)
    state = TrainingState(n_epoch=1, steps_per_epoch=1, n_samples=4, batch_size=4, epoch=1,
                          history={"loss": [0.5], "recall": [np.array([0.25, 0.75])],
                                   "confusion": [np.eye(2, dtype=np.int32)]})
    board.on_train_begin(state)
    board.on_epoch_end(state)
    board.on_train_end(state)
    scalars, _ = _read(tmp_path / "train")
    assert scalars == {"epoch_loss": [(1, 0.5)], "epoch_recall/0": [(1, 0.25)],
                       "epoch_recall/1": [(1, 0.75)]}


def test_a_run_without_run_id_gets_a_generated_folder_under_the_default_dir(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    model = _model(tensorboard_verbose=1)
    model.fit(X, Y, n_epoch=1, verbose=0)
    run_dir = model.tensorboard.run_dir
    assert re.fullmatch(re.escape(str(tmp_path / "stackit_logs")) + r"/[A-Z0-9]{6}", run_dir)
    scalars, _ = _read(f"{run_dir}/train")
    assert "epoch_loss" in scalars


def test_without_tensorboardx_it_warns_once_and_training_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # `import tensorboardX` fails
    monkeypatch.setattr(tensorboard_module, "_warned_missing", False)
    model = _model(tensorboard_dir=tmp_path, tensorboard_verbose=2)
    with pytest.warns(UserWarning, match=r"pip install 'stackit\[tensorboard\]'") as caught:
        first = model.fit(X, Y, n_epoch=2, verbose=0, callbacks=TensorBoard(tmp_path / "k"))
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second fit says nothing
        second = model.fit(X, Y, n_epoch=1, verbose=0)
    assert len(first.history["loss"]) == 2 and second.epoch == [3]
    assert list(tmp_path.iterdir()) == []
    assert model.tensorboard.run_dir is None


@pytest.mark.parametrize("kwargs, error, match", [
    ({"tensorboard_verbose": 4}, ValueError, "tensorboard_verbose must be an int from 0 to 3"),
    ({"tensorboard_verbose": True}, ValueError, "Received: tensorboard_verbose=True"),
    ({"tensorboard_dir": 3}, TypeError, "tensorboard_dir must be a path"),
])
def test_dnn_refuses_bad_tensorboard_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _model(**kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"log_dir": None}, TypeError, "log_dir must be a path"),
    ({"verbose": -1}, ValueError, "verbose must be an int from 0 to 3"),
    ({"histogram_freq": 1.5}, ValueError, "histogram_freq must be an int >= 0"),
    ({"update_freq": "step"}, ValueError, "update_freq must be one of 'refresh', 'batch'"),
])
def test_callback_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TensorBoard(**kwargs)
