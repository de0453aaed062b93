"""Fine-tuning: lenient loading with a report, freezing layers of a built model, per-layer
learning rates, and `load_model` of models trained with optax objects or schedules."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from helpers import classification_data
from rich.console import Console
from test_examples import printed_arrays, run_example

import stackit
from stackit.callbacks import LearningRateScheduler
from stackit.checkpoint import CheckpointError
from stackit.layers import fully_connected, input_data, regression
from stackit.optimizers import ScaleByTFAdamState


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _classifier(classes=3, seed=0, extra=False, **regression_kwargs):
    """input(4) → FullyConnected(6) → [extra(5)] → head(classes) → regression."""
    stackit.layers.reset_default_graph()
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 6, activation="relu")
    if extra:
        net = fully_connected(net, 5, activation="relu", name="extra")
    net = fully_connected(net, classes, activation="softmax", name="head")
    kwargs = {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 8, **regression_kwargs}
    return stackit.DNN(regression(net, **kwargs), seed=seed)


def _trained(tmp_path, classes=3, **kwargs):
    x, _, y = classification_data(32, 4, classes)
    model = _classifier(classes, **kwargs)
    model.fit(x, y, n_epoch=2, verbose=0)
    return model, model.save(str(tmp_path / "pretrained"))


def _weights(model):
    return {f"{layer}/{name}": np.asarray(value)
            for layer, values in model.train_state.params.items()
            for name, value in values.items()}


# -- load(strict=False) ---------------------------------------------------------------------------

def test_strict_false_loads_what_matches_and_reports_the_rest(tmp_path, capsys):
    pretrained, path = _trained(tmp_path, classes=3)
    fresh = _weights(_classifier(5, seed=1, extra=True))
    tuned = _classifier(5, seed=1, extra=True)

    report = tuned.load(path, weights_only=True, strict=False)

    saved = _weights(pretrained)
    assert report.loaded == ["FullyConnected/W", "FullyConnected/b"]
    assert report.missing == ["extra/W", "extra/b"]
    assert report.mismatched == [("head/W", (6, 3), (5, 5)), ("head/b", (3,), (5,))]
    assert report.skipped == ["extra/W", "extra/b", "head/W", "head/b"]
    assert not report.training_state and report.unused == []
    now = _weights(tuned)
    for name in report.loaded:
        np.testing.assert_array_equal(now[name], saved[name])
    for name in report.skipped:
        np.testing.assert_array_equal(now[name], fresh[name])
    printed = capsys.readouterr().out
    assert "Loaded 2 of 6 arrays from" in printed and "(weights only)" in printed
    assert "skipped head/W: (6, 3) in the file, (5, 5) in this model" in printed
    assert "skipped extra/W: not in the file" in printed
    assert int(tuned.train_state.step) == 0  # weights only: the step is the model's


def test_strict_true_stays_all_or_nothing(tmp_path):
    _, path = _trained(tmp_path, classes=3)
    tuned = _classifier(5, seed=1)
    before = _weights(tuned)
    with pytest.raises(CheckpointError, match=r"head: W is \(6, 3\) in the file, \(6, 5\)"):
        tuned.load(path, weights_only=True)
    for name, value in _weights(tuned).items():
        np.testing.assert_array_equal(value, before[name])


def test_strict_false_restores_the_training_state_only_with_a_whole_match(tmp_path):
    pretrained, path = _trained(tmp_path, classes=3)
    same = _classifier(3, seed=1)
    report = same.load(path, strict=False, verbose=0)
    assert report.training_state and report.skipped == []
    assert int(same.train_state.step) == int(pretrained.train_state.step) and same.epoch == 2

    other = _classifier(5, seed=1)
    report = other.load(path, strict=False, verbose=0)
    assert not report.training_state and "were not restored" in report.note
    assert int(other.train_state.step) == 0 and other.epoch == 0
    assert report.loaded == ["FullyConnected/W", "FullyConnected/b"]


def test_strict_false_pairs_renamed_layers_by_type_and_order(tmp_path):
    pretrained, path = _trained(tmp_path, classes=3)
    net = input_data(shape=[None, 4])  # same process: automatic names have new suffixes
    net = fully_connected(net, 6, activation="relu")
    net = fully_connected(net, 3, activation="softmax", name="new_head")
    model = stackit.DNN(regression(net), seed=3)
    report = model.load(path, weights_only=True, strict=False, verbose=0)
    assert report.skipped == [] and report.unused == []
    np.testing.assert_array_equal(model.get_weights("new_head/W"),
                                  pretrained.get_weights("head/W"))


def _adam(model):
    """The Adam state (moments and count) inside the model's optimizer state."""
    found = jax.tree.leaves(model.train_state.opt_state,
                            is_leaf=lambda node: isinstance(node, ScaleByTFAdamState))
    return next(node for node in found if isinstance(node, ScaleByTFAdamState))


# -- freeze / unfreeze ----------------------------------------------------------------------------

def test_freeze_keeps_frozen_layers_and_the_others_optimizer_state(tmp_path):
    x, _, y = classification_data(32, 4, 3)
    model = _classifier(3, extra=True)
    model.fit(x, y, n_epoch=1, verbose=0)
    mu_head = np.asarray(_adam(model).mu["head"]["W"])
    step, steps = int(model.train_state.step), model.steps

    assert model.freeze("Fully*", "extra") == ["FullyConnected", "extra"]
    assert model.frozen == ("FullyConnected", "extra")
    assert model.steps is not steps  # the step compiles again for the new frozen set
    # the head's Adam moments and the step count are carried over; frozen layers hold none
    np.testing.assert_array_equal(_adam(model).mu["head"]["W"], mu_head)
    assert int(_adam(model).count) == step and jax.tree.leaves(_adam(model).mu["extra"]) == []
    assert model.get_learning_rate() == pytest.approx(0.01)
    assert [(r.layer, r.param) for r in model.get_train_vars()] == [("head", "W"), ("head", "b")]

    steps = model.steps
    model.freeze("FullyConnected")  # already frozen: nothing changes, nothing recompiles
    assert model.steps is steps

    before = _weights(model)
    model.fit(x, y, n_epoch=1, verbose=0)
    after = _weights(model)
    for name in ("FullyConnected/W", "FullyConnected/b", "extra/W", "extra/b"):
        np.testing.assert_array_equal(after[name], before[name])
    assert not np.allclose(after["head/W"], before["head/W"])

    assert model.unfreeze("extra") == ["extra"] and model.frozen == ("FullyConnected",)
    model.fit(x, y, n_epoch=1, verbose=0)
    assert not np.allclose(_weights(model)["extra/W"], after["extra/W"])


def test_unfreeze_overrides_trainable_false_and_bad_patterns_are_refused():
    x, _, y = classification_data(16, 4, 3)
    net = input_data(shape=[None, 4])
    body = fully_connected(net, 6, trainable=False)
    model = stackit.DNN(regression(fully_connected(body, 3, activation="softmax")), seed=0)
    assert model.frozen == ("FullyConnected",)
    model.unfreeze("FullyConnected")
    assert model.frozen == ()
    console = Console(record=True, width=120)
    model.summary(console=console)
    assert "Trainable params: 51  Non-trainable params: 0" in console.export_text()
    before = model.get_weights(body.W)
    model.fit(x, y, n_epoch=1, verbose=0)
    assert not np.allclose(model.get_weights(body.W), before)

    with pytest.raises(ValueError, match=r"'Conv2D\*' matches no layer with parameters. "
                                         r"Expected a glob over: FullyConnected, "
                                         r"FullyConnected_1"):
        model.freeze("Conv2D*")
    with pytest.raises(ValueError, match="needs layer-name patterns"):
        model.freeze()
    with pytest.raises(TypeError, match="layer-name patterns"):
        model.freeze(3)


# -- per-layer learning rates ---------------------------------------------------------------------

def _linear_model(learning_rates, lr=0.1):
    net = input_data(shape=[None, 3])
    net = fully_connected(net, 2, name="A")
    net = fully_connected(net, 1, name="B")
    net = regression(net, optimizer="sgd", learning_rate=lr, loss="mean_square", metric=None,
                     learning_rates=learning_rates)
    return stackit.DNN(net, seed=0, clip_gradients=0)


def _numpy_grads(p, x, y):
    """Gradients of mean((x A + a) B + b - y)^2 (linear layers), in numpy."""
    h = x @ p["A/W"] + p["A/b"]
    d = 2 * (h @ p["B/W"] + p["B/b"] - y) / len(x)
    dh = d @ p["B/W"].T
    return {"B/W": h.T @ d, "B/b": d.sum(0), "A/W": x.T @ dh, "A/b": dh.sum(0)}


def test_each_group_steps_by_learning_rate_times_its_multiplier():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = _linear_model({"A": 0.1, "B*": 3.0})
    for lr in (0.1, 0.5):  # the second step after set_learning_rate: the groups follow it
        model.set_learning_rate(lr)
        before = _weights(model)
        model.fit_batch(x, y)
        grads = _numpy_grads({k: v.astype(np.float64) for k, v in before.items()}, x, y)
        for name, multiplier in (("A/W", 0.1), ("A/b", 0.1), ("B/W", 3.0), ("B/b", 3.0)):
            np.testing.assert_allclose(_weights(model)[name] - before[name],
                                       -lr * multiplier * grads[name], rtol=1e-4, atol=1e-7)
    assert model.get_learning_rate() == pytest.approx(0.5)


def test_learning_rate_callbacks_drive_every_group():
    """SGD on a group at 2x a rate set by a callback steps exactly as SGD at twice that rate."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16, 1)).astype(np.float32)

    def run(learning_rates, rate):
        stackit.layers.reset_default_graph()
        net = fully_connected(input_data(shape=[None, 3]), 1, name="B")
        model = stackit.DNN(regression(net, optimizer="sgd", loss="mean_square", metric=None,
                                       learning_rates=learning_rates), seed=0, clip_gradients=0)
        history = model.fit(x, y, n_epoch=3, batch_size=8, shuffle=False, verbose=0,
                            callbacks=LearningRateScheduler(lambda epoch: rate / (epoch + 1)))
        return model, history

    grouped, history = run({"B": 2.0}, 0.1)
    plain, _ = run(None, 0.2)
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    for name, value in _weights(plain).items():  # up to float32 rounding of the two programs
        np.testing.assert_allclose(_weights(grouped)[name], value, rtol=1e-6, atol=1e-8)


def test_learning_rates_are_checked():
    with pytest.raises(ValueError, match=r"pattern 'Conv\*' matches no layer with parameters. "
                                         r"Expected a glob over: A, B"):
        _linear_model({"Conv*": 0.1})
    with pytest.raises(ValueError, match=r"multiplier must be a finite number >= 0"):
        _linear_model({"A": -1.0})
    with pytest.raises(TypeError, match=r"learning_rates must map layer-name patterns"):
        _linear_model({"A": "fast"})
    net = fully_connected(input_data(shape=[None, 3]), 1, name="C")
    with pytest.raises(ValueError, match=r"for every optimizer but FTRL"):
        stackit.DNN(regression(net, optimizer="ftrl", loss="mean_square",
                               learning_rates={"C": 2.0}))


def test_learning_rates_and_frozen_layers_survive_load_model(tmp_path):
    x, _, y = classification_data(32, 4, 3)
    model = _classifier(3, extra=True, learning_rates={"head": 5.0, "extra": 0.5})
    model.freeze("FullyConnected")
    model.fit(x, y, n_epoch=1, verbose=0)
    path = model.save(str(tmp_path / "grouped"))

    stackit.layers.reset_default_graph()
    rebuilt = stackit.load_model(path)  # warnings are errors: the optimizer state fits

    estimator = rebuilt.heads[0].estimator
    assert estimator.learning_rates == (("head", 5.0), ("extra", 0.5))
    assert rebuilt.frozen == ("FullyConnected",)
    model.fit(x, y, n_epoch=1, verbose=0)
    rebuilt.fit(x, y, n_epoch=1, verbose=0)
    for left, right in zip(jax.tree.leaves(model.train_state.opt_state),
                           jax.tree.leaves(rebuilt.train_state.opt_state), strict=True):
        np.testing.assert_array_equal(left, right)
    for name, value in _weights(model).items():
        np.testing.assert_array_equal(_weights(rebuilt)[name], value)


# -- load_model with optax objects and schedules --------------------------------------------------

def test_load_model_asks_again_for_an_optax_optimizer_and_restores_its_state(tmp_path):
    x, _, y = classification_data(32, 4, 3)
    model = _classifier(3, optimizer=optax.adam(1e-2))
    model.fit(x, y, n_epoch=1, verbose=0)
    path = model.save(str(tmp_path / "optax"))

    stackit.layers.reset_default_graph()
    with pytest.raises(CheckpointError, match=r"estimator 'Regression' was trained with an "
                                              r"optax transformation as its optimizer.*"
                                              r"load_model\('.*optax.npz', optimizer=\.\.\.\)"):
        stackit.load_model(path)
    with pytest.raises(ValueError, match=r"names estimators the file does not have: \['x'\]"):
        stackit.load_model(path, optimizer={"x": optax.adam(1e-2)})
    rebuilt = stackit.load_model(path, optimizer={"Regression": optax.adam(1e-2)})
    for left, right in zip(jax.tree.leaves(model.train_state.opt_state),
                           jax.tree.leaves(rebuilt.train_state.opt_state), strict=True):
        np.testing.assert_array_equal(left, right)


def test_load_model_asks_again_for_a_schedule_and_keeps_the_rest(tmp_path):
    x, _, y = classification_data(32, 4, 3)
    schedule = optax.cosine_decay_schedule(0.05, 100)
    model = _classifier(3, optimizer=stackit.Momentum(schedule, 0.8))
    model.fit(x, y, n_epoch=1, verbose=0)
    path = model.save(str(tmp_path / "scheduled"))

    stackit.layers.reset_default_graph()
    with pytest.raises(CheckpointError, match=r"the learning_rate of its Momentum optimizer was "
                                              r"the Python callable 'cosine_decay_schedule"):
        stackit.load_model(path)
    rebuilt = stackit.load_model(path, learning_rate=schedule)
    assert rebuilt.heads[0].estimator.optimizer.momentum == 0.8  # the rest came from the file
    assert rebuilt.get_learning_rate() == pytest.approx(model.get_learning_rate())
    model.fit(x, y, n_epoch=1, verbose=0)
    rebuilt.fit(x, y, n_epoch=1, verbose=0)
    for name, value in _weights(model).items():
        np.testing.assert_array_equal(_weights(rebuilt)[name], value)


# -- the example ----------------------------------------------------------------------------------

def test_finetune_lenet_example(tmp_path):
    output = run_example(tmp_path, "finetune_lenet.py", "--epochs", "1")
    assert "Saved lenet_mnist.npz." in output
    assert "Loaded 8 of 10 arrays from lenet_mnist.npz (weights only)." in output
    assert "skipped head/W: (84, 10) in the file, (84, 2) in this model" in output
    assert "Frozen: Conv2D, Conv2D_1." in output
    (accuracy,) = printed_arrays(output, "Test accuracy (even or odd):")[:1]
    assert accuracy > 85
