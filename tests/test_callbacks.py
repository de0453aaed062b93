"""Tests for fit's callbacks: the hooks and the state they see, stopping early, and the plain
one-line-per-epoch display."""

import re

import numpy as np
import pytest
from helpers import classification_data

import stackit
from stackit.callbacks import Callback, TrainingState
from stackit.layers import fully_connected, input_data, regression

N_TRAIN, BATCH = 60, 16  # 4 steps per epoch


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _data(n, seed=0):
    x, _, y = classification_data(n, 4, 3, seed)
    return x, y


def _model():
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 8, activation="relu")
    net = fully_connected(net, 3, activation="softmax")
    return stackit.DNN(regression(net, optimizer="sgd", learning_rate=0.1, batch_size=BATCH),
                       seed=0)


@pytest.fixture(scope="module")
def model():
    """One model shared by the tests of this file, so its steps are compiled once."""
    return _model()


TRAIN, VAL = _data(N_TRAIN), _data(20, seed=1)


class Recorder(Callback):
    def __init__(self, stop_at_epoch=None, raise_stop=False):
        self.events = []
        self.stop_at_epoch, self.raise_stop = stop_at_epoch, raise_stop

    def _record(self, hook, state):
        assert isinstance(state, TrainingState)
        self.events.append((hook, state.epoch, state.step, state.loss_value, state.val_loss,
                            state.val_acc))

    def on_train_begin(self, state):
        self._record("train_begin", state)

    def on_epoch_begin(self, state):
        self._record("epoch_begin", state)

    def on_batch_end(self, state):
        self._record("batch_end", state)

    def on_epoch_end(self, state):
        self._record("epoch_end", state)
        if state.epoch == self.stop_at_epoch:
            if self.raise_stop:
                raise StopIteration
            state.stop_training = True

    def on_train_end(self, state):
        self._record("train_end", state)

    def hooks(self):
        return [event[0] for event in self.events]


def test_hooks_run_in_order_and_see_the_training_state(model):
    recorder = Recorder()
    epoch0, step0 = model.epoch, int(model.train_state.step)

    history = model.fit(*TRAIN, n_epoch=3, validation_set=VAL, show_metric=True,
                        callbacks=recorder, verbose=0)

    hooks = recorder.hooks()
    assert hooks[0] == "train_begin" and hooks[-1] == "train_end"
    assert hooks.count("train_begin") == hooks.count("train_end") == 1
    assert hooks.count("epoch_begin") == hooks.count("epoch_end") == 3
    assert re.fullmatch(r"(epoch_begin (batch_end )+epoch_end )+",
                        " ".join(hooks[1:-1]) + " ")
    ends = [event for event in recorder.events if event[0] == "epoch_end"]
    for i, (_, epoch, step, loss, val_loss, val_acc) in enumerate(ends, start=1):
        assert epoch == epoch0 + i
        assert step == step0 + 4 * i
        assert np.isfinite(loss) and np.isfinite(val_loss) and 0.0 <= val_acc <= 1.0
    assert [event[3] for event in ends] == history.history["loss"]
    assert [event[4] for event in ends] == history.history["val_loss"]
    begins = [event for event in recorder.events if event[0] == "epoch_begin"]
    assert all(event[4] is None for event in begins)  # no validation yet in a new epoch
    assert model.epoch == epoch0 + 3


def test_state_describes_the_run(model):
    seen = {}

    class Snapshot(Callback):
        def on_train_begin(self, state):
            seen.update(n_epoch=state.n_epoch, steps_per_epoch=state.steps_per_epoch,
                        n_samples=state.n_samples, batch_size=state.batch_size,
                        run_id=state.run_id, metric_name=state.metric_name)

    model.fit(*TRAIN, n_epoch=1, run_id="run-7", callbacks=[Snapshot()], verbose=0)

    assert seen == {"n_epoch": 1, "steps_per_epoch": 4, "n_samples": N_TRAIN,
                    "batch_size": BATCH, "run_id": "run-7", "metric_name": "acc"}


@pytest.mark.parametrize("raise_stop", [False, True], ids=["stop_training", "StopIteration"])
def test_a_callback_stops_training_after_the_epoch(model, raise_stop):
    epoch0, step0 = model.epoch, int(model.train_state.step)
    recorder = Recorder(stop_at_epoch=epoch0 + 2, raise_stop=raise_stop)

    history = model.fit(*TRAIN, n_epoch=5, callbacks=[recorder], verbose=0)

    assert len(history.history["loss"]) == 2
    assert history.epoch == [epoch0 + 1, epoch0 + 2]
    assert recorder.hooks().count("epoch_end") == 2
    assert recorder.hooks()[-1] == "train_end"
    assert model.epoch == epoch0 + 2
    assert int(model.train_state.step) == step0 + 8


def test_plain_display_prints_one_line_per_epoch(capsys):
    model = _model()

    model.fit(*TRAIN, n_epoch=3, validation_set=VAL, show_metric=True, verbose=2)

    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {epoch}/3 | step {4 * epoch} | loss ")
        assert " acc " in line and "val_loss " in line and "val_acc " in line

    model.fit(*TRAIN, n_epoch=2, verbose=2)  # continued training: epochs 4 and 5

    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        done, total = map(int, re.match(r"Epoch (\d+)/(\d+) ", line).groups())
        assert done <= total, line
    assert " acc " not in lines[0]  # show_metric=False


def test_verbose_0_prints_nothing(model, capsys):
    model.fit(*TRAIN, n_epoch=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_live_progress_bar_shows_each_epoch_with_loss_metric_validation_lr_and_speed():
    from rich.console import Console

    from stackit.callbacks import ProgressBar

    console = Console(record=True, force_terminal=True, width=200)
    _model().fit(*TRAIN, n_epoch=2, validation_set=VAL, show_metric=True,
                 callbacks=[ProgressBar(console=console)], verbose=0)

    text = console.export_text()  # every frame the live display drew
    # epoch 1 is one chunk, the one that compiled: no rate is shown for it rather than a wrong one
    for epoch, rate in ((1, "-"), (2, r"[\d,]+")):
        final = (rf"Epoch {epoch}/2 \S+ 4/4 loss \d+\.\d{{4}} acc \d\.\d{{4}} \| val_loss "
                 rf"\d+\.\d{{4}} val_acc \d\.\d{{4}} \| lr 0\.1 \| {rate} samples/s")
        assert re.search(final, text), text
