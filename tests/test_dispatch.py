"""Steps per dispatch: the user's `steps_per_execution`, or measured once and remembered."""

import json

import numpy as np
import pytest

import stackit
from stackit.engine import dispatch
from stackit.engine.loop import STEPS_PER_CHUNK
from tests.helpers import classification_data, mlp


def _model(**kwargs):
    stackit.reset_default_graph()
    hidden, _, net = mlp(5, 8, 3)
    return hidden, stackit.DNN(net, seed=0, **kwargs)


@pytest.mark.parametrize("per", [1, 7, STEPS_PER_CHUNK])
def test_steps_per_execution_changes_the_dispatch_not_the_training(per):
    x, _, y = classification_data(200, 5, 3)
    hidden, reference = _model(steps_per_execution=1)
    reference.fit(x, y, n_epoch=2, batch_size=16)
    _, model = _model(steps_per_execution=per)
    model.fit(x, y, n_epoch=2, batch_size=16)
    assert model.steps.steps_per_dispatch == per
    assert model.steps.scan == (per > 1)
    assert model.steps.train_chunk._cache_size() == 1  # ceil(13 / per) equal chunks
    np.testing.assert_allclose(model.get_weights(hidden.W), reference.get_weights(hidden.W),
                               rtol=1e-5, atol=1e-6)


def test_steps_per_execution_set_later_and_through_compile():
    _, model = _model()
    assert model.steps_per_execution is None
    model.steps_per_execution = 4
    assert model.steps.steps_per_dispatch == 4
    seq = stackit.Sequential([stackit.layers.Dense(3, activation="softmax")])
    seq.compile(optimizer="sgd", loss="categorical_crossentropy", steps_per_execution=5)
    seq.build((4,))
    assert seq.steps.steps_per_dispatch == 5


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True])
def test_bad_steps_per_execution_is_refused(bad):
    with pytest.raises(ValueError, match="steps_per_execution must be a positive int"):
        _model(steps_per_execution=bad)


def test_a_long_fit_measures_once_and_later_models_recall_it(monkeypatch, tmp_path):
    file = tmp_path / "dispatch.json"
    monkeypatch.setenv(dispatch.FILE_ENV, str(file))
    monkeypatch.setattr(dispatch, "MEASURE_MIN_STEPS", 20)
    calls = []
    measure = dispatch.measure

    def spy(chunks, *args):
        calls.append(sorted(chunks))
        seconds = measure(chunks, *args)
        assert all(s > 0 for s in seconds.values())
        return {1: 1.0, dispatch.SCAN_PROBE: 2.0}  # say single steps won clearly

    monkeypatch.setattr(dispatch, "measure", spy)
    x, _, y = classification_data(160, 5, 3)
    hidden, model = _model()
    assert model.steps.steps_per_dispatch == STEPS_PER_CHUNK  # the guess for dense layers
    model.fit(x, y, n_epoch=2, batch_size=16)  # 20 steps
    assert calls == [[1, dispatch.SCAN_PROBE]]
    assert model.steps.steps_per_dispatch == 1
    assert list(json.loads(file.read_text()).values()) == [1]
    # measuring trained copies: the model's own training is as without it
    _, plain = _model(steps_per_execution=1)
    plain.fit(x, y, n_epoch=2, batch_size=16)
    np.testing.assert_allclose(model.get_weights(hidden.W), plain.get_weights(hidden.W),
                               rtol=1e-6)

    _, again = _model()
    again.fit(x, y, n_epoch=2, batch_size=16)
    assert len(calls) == 1 and again.steps.steps_per_dispatch == 1  # recalled
    _, other_batch = _model()
    other_batch.fit(x, y, n_epoch=4, batch_size=32)  # another key: measured anew
    assert len(calls) == 2


def test_short_fits_and_the_guess_setting_do_not_measure(monkeypatch, tmp_path):
    monkeypatch.setenv(dispatch.FILE_ENV, str(tmp_path / "dispatch.json"))
    monkeypatch.setattr(dispatch, "measure", lambda *a: pytest.fail("measured"))
    x, _, y = classification_data(160, 5, 3)
    _, model = _model()
    model.fit(x, y, n_epoch=2, batch_size=16)  # far below MEASURE_MIN_STEPS
    monkeypatch.setattr(dispatch, "MEASURE_MIN_STEPS", 20)
    monkeypatch.setenv(dispatch.ENV, "guess")
    model.fit(x, y, n_epoch=2, batch_size=16)
    assert model.steps.steps_per_dispatch == STEPS_PER_CHUNK
    assert not (tmp_path / "dispatch.json").exists()


def test_a_corrupt_choice_file_is_measured_over(monkeypatch, tmp_path):
    file = tmp_path / "dispatch.json"
    file.write_text("{not json")
    monkeypatch.setenv(dispatch.FILE_ENV, str(file))
    assert dispatch.recall("anything") is None
    dispatch.remember("k", 32)
    assert dispatch.recall("k") == 32


@pytest.mark.parametrize("single, scanned, guess, chosen", [
    (1.0, 1.1, STEPS_PER_CHUNK, STEPS_PER_CHUNK),  # within the margin: the guess stands
    (1.0, 1.2, STEPS_PER_CHUNK, 1),
    (1.1, 1.0, 1, 1),
    (1.2, 1.0, 1, STEPS_PER_CHUNK),
])
def test_the_guess_stands_unless_clearly_beaten(single, scanned, guess, chosen):
    seconds = {1: single, dispatch.SCAN_PROBE: scanned}
    assert dispatch.decide(seconds, guess, STEPS_PER_CHUNK) == chosen
