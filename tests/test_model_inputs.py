"""Tests for what `fit`/`evaluate`/`predict` accept: dict feeding, and a clear error for every bad
input, raised before anything is compiled."""

import numpy as np
import pytest

import stackit
from stackit.layers import fully_connected, input_data, regression


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()
    yield


def _model(**regression_kwargs):
    net = input_data(shape=[None, 4], name=regression_kwargs.pop("input_name", None))
    net = fully_connected(net, 8, activation="relu")
    net = fully_connected(net, 3, activation="softmax")
    net = regression(net, batch_size=16, **regression_kwargs)
    return stackit.DNN(net, seed=0)


def _data(n=20):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = rng.integers(0, 3, n)
    return x, labels, np.eye(3, dtype=np.float32)[labels]


def _assert_nothing_compiled(model):
    assert model.steps.train_chunk._cache_size() == 0
    assert model.steps.eval_chunk._cache_size() == 0
    assert model.steps.predict_batch._cache_size() == 0


# ------------------------------------------------------------------------------ dict input


def test_dict_inputs_keyed_by_layer_names():
    x, _, y = _data()
    model = _model(input_name="input", name="target")

    with pytest.raises(ValueError, match=r"'input'.*Received keys: \['inputs'\]"):
        model.fit({"inputs": x}, {"target": y}, n_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"'target'.*Received keys: \['y'\]"):
        model.fit({"input": x}, {"y": y}, n_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"'input'"):
        model.predict({"X": x})
    with pytest.raises(ValueError, match=r"'target'"):
        model.evaluate({"input": x}, {"Y": y})
    _assert_nothing_compiled(model)

    history = model.fit({"input": x}, {"target": y}, n_epoch=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.evaluate({"input": x}, {"target": y}) == model.evaluate(x, y)
    np.testing.assert_array_equal(model.predict({"input": x}), model.predict(x))


# ------------------------------------------------------------------------------ bad fit inputs

_X, _LABELS, _Y = _data()
_X_NAN = _X.copy()
_X_NAN[3, 2] = np.nan
_Y_INF = _Y.copy()
_Y_INF[5, 1] = np.inf
_X_BIG = _X.astype(np.float64)
_X_BIG[2, 1] = 1e300
_Y_NEGATIVE = _Y.copy()
_Y_NEGATIVE[4] = [-1.0, 1.0, 1.0]  # sums to 1, but not probabilities

BAD_FIT_CALLS = {
    # name: (X, Y, fit kwargs, exception, message pattern)
    "feature_dimension": (_X[:, :3], _Y, {}, ValueError,
                          r"expects X of shape \(None, 4\).*X\.shape=\(20, 3\).*Dimension 1 "
                          r"differs \(3 vs 4\)"),
    "rank": (_X.reshape(20, 2, 2), _Y, {}, ValueError,
             r"expects X of shape \(None, 4\).*reshape"),
    "lengths": (_X, _Y[:19], {}, ValueError, r"same number of samples.*20.*19"),
    "integer_labels": (_X, _LABELS, {}, ValueError, r"one-hot.*to_categorical"),
    "class_count": (_X, np.eye(5, dtype=np.float32)[_LABELS], {}, ValueError,
                    r"outputs 3 values per sample but Y has 5"),
    "empty_x": (np.zeros((0, 4), np.float32), _Y[:0], {}, ValueError, r"X is empty"),
    "string_x": (np.array([["a"] * 4] * 20), _Y, {}, TypeError, r"X must be numeric"),
    "nan_in_x": (_X_NAN, _Y, {}, ValueError, r"X contains nan at index \(3, 2\)"),
    "inf_in_y": (_X, _Y_INF, {}, ValueError, r"Y contains inf at index \(5, 1\)"),
    # finite as float64, infinite once cast to the input layer's float32
    "x_overflows_float32": (_X_BIG, _Y, {}, ValueError,
                            r"X holds 1e\+300 at index \(2, 1\), beyond the range of float32"),
    "batch_size_0": (_X, _Y, {"batch_size": 0}, ValueError,
                     r"batch_size must be a positive int.*batch_size=0"),
    "n_epoch_0": (_X, _Y, {"n_epoch": 0}, ValueError, r"n_epoch must be a positive int"),
    "validation_fraction_1.5": (_X, _Y, {"validation_set": 1.5}, ValueError,
                                r"validation_set.*\(0, 1\).*1\.5"),
    "validation_fraction_0": (_X, _Y, {"validation_set": 0.0}, ValueError,
                              r"validation_set.*\(0, 1\)"),
    "validation_fraction_negative": (_X, _Y, {"validation_set": -0.2}, ValueError,
                                     r"validation_set.*\(0, 1\)"),
    "validation_split_1": (_X, _Y, {"validation_split": 1.0}, ValueError, r"\(0, 1\)"),
    "validation_set_string": (_X, _Y, {"validation_set": "0.1"}, ValueError,
                              r"validation_set must be a fraction in \(0, 1\), an \(X, Y\) "
                              r"pair or an \(X, Y, sample_weight\) triple. Received: str"),
    "validation_x_shape": (_X, _Y, {"validation_set": (_X[:, :3], _Y)}, ValueError,
                           r"validation X"),
    "n_epoch_and_epochs": (_X, _Y, {"n_epoch": 2, "epochs": 2}, ValueError,
                           r"n_epoch or epochs, not both"),
    "validation_set_and_split": (_X, _Y, {"validation_set": 0.1, "validation_split": 0.1},
                                 ValueError, r"validation_set or validation_split"),
    "validation_split_and_data": (_X, _Y, {"validation_split": 0.1,
                                           "validation_data": (_X, _Y)},
                                  ValueError, r"validation_split or validation_data"),
    "callbacks_not_callbacks": (_X, _Y, {"callbacks": ["early_stopping"]}, TypeError,
                                r"callbacks"),
    # today numpy would drop the imaginary part with a warning
    "complex_x": (_X.astype(np.complex128) + 1j, _Y, {}, TypeError,
                  r"X must hold real numbers.*X\.dtype=complex128"),
    "complex_y": (_X, _Y.astype(np.complex64), {}, TypeError,
                  r"Y must hold real numbers.*Y\.dtype=complex64"),
    "y_negative_probability": (_X, _Y_NEGATIVE, {}, ValueError,
                               r"categorical cross-entropy expects each row of Y to be class "
                               r"probabilities.*Received: Y\[4\]=\[-1\.  1\.  1\.\]"),
    "y_rows_not_summing_to_1": (_X, 2 * _Y, {}, ValueError,
                                r"values >= 0 summing to 1.*Y\[0\]=.*\(sum 2\); 20 such row"),
    "validation_y_not_probabilities": (_X, _Y, {"validation_set": (_X, 2 * _Y)}, ValueError,
                                       r"each row of validation Y"),
    "shuffle_string": (_X, _Y, {"shuffle": "no"}, TypeError,
                       r"shuffle must be True, False or None.*Received: shuffle='no'"),
    "verbose_9": (_X, _Y, {"verbose": 9}, ValueError,
                  r"verbose must be 0 \(silent\), 1 .* or 2 .*Received: verbose=9"),
}


@pytest.mark.parametrize("case", sorted(BAD_FIT_CALLS))
def test_bad_fit_input_is_refused_before_compiling(case):
    x, y, kwargs, error, pattern = BAD_FIT_CALLS[case]
    model = _model()
    kwargs = {"verbose": 0, **kwargs}
    if "epochs" not in kwargs:
        kwargs.setdefault("n_epoch", 1)

    with pytest.raises(error, match=pattern):
        model.fit(x, y, **kwargs)

    _assert_nothing_compiled(model)
    assert int(model.train_state.step) == 0


def test_smoothed_labels_are_probabilities():
    model = _model()
    smooth = 0.9 * _Y + 0.1 / 3  # label smoothing keeps rows summing to 1
    model.fit(_X, smooth, n_epoch=1, verbose=0)


def test_a_batch_larger_than_the_data_is_lowered_to_it():
    model = _model()
    with pytest.warns(UserWarning, match=r"lowering batch_size=1000000000 and "
                                         r"validation_batch_size=1000000000 to the 20 samples"):
        history = model.fit(_X, _Y, n_epoch=2, batch_size=10**9, verbose=0)
    assert len(history.history["loss"]) == 2
    assert int(model.train_state.step) == 2  # one batch of 20 per epoch
    model.fit(_X, _Y, n_epoch=1, batch_size=64, verbose=0)  # the default size: no note


def test_bad_evaluate_and_predict_inputs_are_refused_before_compiling():
    model = _model()
    with pytest.raises(ValueError, match=r"Dimension 1 differs \(5 vs 4\)"):
        model.predict(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"to_categorical"):
        model.evaluate(_X, _LABELS)
    with pytest.raises(ValueError, match=r"batch_size must be a positive int"):
        model.predict(_X, batch_size=0)
    with pytest.raises(ValueError, match=r"X contains nan at index \(3, 2\)"):
        model.predict(_X_NAN)
    _assert_nothing_compiled(model)


def test_fit_without_an_estimator_explains_what_is_missing():
    net = input_data(shape=[None, 4])
    net = fully_connected(net, 3, activation="softmax")
    model = stackit.DNN(net)

    with pytest.raises(ValueError, match=r"regression\(\.\.\.\).*compile"):
        model.fit(_X, _Y, n_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"regression\(\.\.\.\)"):
        model.evaluate(_X, _Y)
    _assert_nothing_compiled(model)


# ------------------------------------------------------------------------------ unknown names


@pytest.mark.parametrize(("build", "pattern"), [
    (lambda net: regression(net, optimizer="adamm"),
     r"Unknown optimizer 'adamm'\. Expected one of: .*adam.*sgd"),
    (lambda net: regression(net, loss="crossentropy"),
     r"Unknown loss 'crossentropy'\. Expected one of: .*categorical_crossentropy.*mean_square"),
    (lambda net: regression(net, metric="acuracy"),
     r"Unknown metric 'acuracy'\. Expected one of: .*accuracy.*r2"),
    (lambda net: fully_connected(net, 3, activation="rellu"),
     r"Unknown activation 'rellu'\. Expected one of: .*relu.*softmax"),
    (lambda net: fully_connected(net, 3, weights_init="xavierr"),
     r"Unknown initializer 'xavierr'\. Expected one of: .*truncated_normal.*xavier"),
], ids=["optimizer", "loss", "metric", "activation", "initializer"])
def test_unknown_names_list_the_valid_ones(build, pattern):
    net = input_data(shape=[None, 4])
    with pytest.raises(ValueError, match=pattern):
        build(net)


def test_one_hot_class_count_must_match_the_output_units():
    with pytest.raises(ValueError, match=r"regression 'Regression': to_one_hot=True .* "
                                         r"n_classes=5 columns.*must have 5 units\. "
                                         r"Received: n_classes=5, input shape=\(None, 3\)"):
        _model(to_one_hot=True, n_classes=5)  # refused when the model is built
    model = _model(to_one_hot=True, n_classes=3)
    model.fit(_X, _LABELS, n_epoch=1, verbose=0)


def test_keras_compile_with_unknown_names_lists_the_valid_ones():
    model = stackit.Sequential([stackit.layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'.*adam"):
        model.compile(optimizer="adamm")
    with pytest.raises(ValueError, match=r"Unknown loss 'l2_lossy'.*mean_square"):
        model.compile(loss="l2_lossy")
    with pytest.raises(ValueError, match=r"Unknown metric 'f2'.*accuracy.*f1"):
        model.compile(metrics=["accuracy", "f2"])


def test_pandas_frames_are_read_whole_not_as_lazy_arrays():
    import pandas as pd

    stackit.layers.reset_default_graph()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30, 3)).astype(np.float32), columns=["a", "b", "c"])
    net = stackit.input_data(shape=[None, 3])
    net = stackit.regression(stackit.fully_connected(net, 2, activation="softmax"))
    model = stackit.DNN(net, seed=0)
    model.fit(frame, np.eye(2)[rng.integers(0, 2, 30)], n_epoch=1, verbose=0)
    np.testing.assert_array_equal(model.predict(frame), model.predict(frame.to_numpy()))


def test_the_finite_check_finds_what_a_sum_would_hide_or_overflow():
    from stackit.inputs import check_finite
    huge = np.full((8, 3), 3e38, np.float32)  # finite, but their float32 sum overflows
    check_finite(huge, "X")
    check_finite(np.full(4, 6e4, np.float16), "X")
    for value, shown in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")):
        bad = huge.copy()
        bad[5, 1] = value
        with pytest.raises(ValueError, match=rf"X contains {shown} at index \(5, 1\)"):
            check_finite(bad, "X")
    both = np.zeros(6, np.float32)
    both[[1, 4]] = [np.inf, -np.inf]  # they would cancel into a NaN sum: still both found
    with pytest.raises(ValueError, match=r"inf at index \(1,\) \(2 non-finite"):
        check_finite(both, "X")
