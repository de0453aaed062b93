"""Precision, Recall, F1, ConfusionMatrix and AUC against numpy, several metrics per estimator
(names in the history and the display), `evaluate(return_dict=, confusion_matrix=)`, and
metrics read on the host only at refreshes."""

from __future__ import annotations

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit import metrics
from stackit._registry import from_config, to_config
from stackit.callbacks import CSVLogger
from stackit.engine import loop
from stackit.layers import fully_connected, input_data, regression
from stackit.metrics import AUC, F1, ConfusionMatrix, Precision, Recall, Top_k

RNG = np.random.default_rng(0)
N, C, BATCH = 45, 4, 16  # three batches, the last one padded (13 real rows + 3 padding)


# -- helpers --------------------------------------------------------------------------------------

def accumulate(metric, y_pred, y_true, output_shape, jit=False):
    """`metric` built for `output_shape`, updated over batches of BATCH rows (the last padded
    with NaN scores and out-of-range labels, masked out), then its result. The models below
    run it jitted; eager here keeps the many small cases fast."""
    metric = metric.build(output_shape)
    update = jax.jit(metric.update) if jit else metric.update
    stats = metric.init()
    for start in range(0, len(y_pred), BATCH):
        pred, true = y_pred[start:start + BATCH], y_true[start:start + BATCH]
        real = len(pred)
        mask = np.zeros(BATCH, np.float32)
        mask[:real] = 1
        pred = np.concatenate([pred, np.full((BATCH - real, *pred.shape[1:]), np.nan,
                                             pred.dtype)])
        true = np.concatenate([true, np.full((BATCH - real, *true.shape[1:]), 7, true.dtype)])
        stats = update(stats, jnp.asarray(pred), jnp.asarray(true), jnp.asarray(mask))
    return np.asarray(metric.result(stats))


def np_confusion(true, pred, n):
    counts = np.zeros((n, n), np.int64)
    np.add.at(counts, (true, pred), 1)
    return counts


def np_ratios(counts):
    """Per class `(precision, recall, f1)` from a confusion matrix, 0 where undefined."""
    tp = np.diag(counts).astype(float)
    fp, fn = counts.sum(0) - tp, counts.sum(1) - tp

    def ratio(num, den):
        return np.where(den > 0, num / np.maximum(den, 1), 0.0)

    return {"precision": (tp, tp + fp), "recall": (tp, tp + fn),
            "f1": (2 * tp, 2 * tp + fp + fn)}, ratio, (tp + fp + fn) > 0


def np_metric(counts, kind, average):
    parts, ratio, present = np_ratios(counts)
    num, den = parts[kind]
    if average is None:
        return ratio(num, den)
    if average == "binary":
        return ratio(num[1], den[1])
    if average == "micro":
        return ratio(num.sum(), den.sum())
    return ratio(num, den)[present].mean()


def exact_auc(score, positive):
    """P(score of a positive > score of a negative) + half the ties, over all pairs."""
    pos, neg = score[positive][:, None], score[~positive][None, :]
    return (np.sum(pos > neg) + 0.5 * np.sum(pos == neg)) / (pos.size * neg.size)


def softmax_scores(n, c, skew=0):
    """Random probabilities; `skew` makes class 0 never predicted (a 0/0 column)."""
    logits = RNG.normal(size=(n, c)).astype(np.float32)
    logits[:, 0] -= skew
    e = np.exp(logits)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


# -- precision, recall, F1, confusion matrix vs numpy ---------------------------------------------

CLASSES = {Precision: "precision", Recall: "recall", F1: "f1"}


@pytest.mark.parametrize("cls", list(CLASSES), ids=list(CLASSES.values()))
@pytest.mark.parametrize("average", ["macro", "micro", None])
@pytest.mark.parametrize("labels_as", ["one_hot", "int"])
def test_multiclass_metrics_match_numpy_confusion_matrix(cls, average, labels_as):
    scores = softmax_scores(N, C, skew=4)  # class 0 rarely predicted: 0/0 handled as 0
    true = RNG.integers(0, C, N)
    targets = np.eye(C, dtype=np.float32)[true] if labels_as == "one_hot" else true
    counts = np_confusion(true, scores.argmax(1), C)

    got = accumulate(cls(average=average), scores, targets, (C,))

    np.testing.assert_allclose(got, np_metric(counts, CLASSES[cls], average), rtol=1e-6)


@pytest.mark.parametrize("cls", list(CLASSES), ids=list(CLASSES.values()))
@pytest.mark.parametrize("average", ["macro", "micro", "binary", None])
def test_binary_metrics_one_sigmoid_unit_and_two_class_softmax_agree(cls, average):
    prob = RNG.random(N).astype(np.float32)
    true = RNG.integers(0, 2, N)
    counts = np_confusion(true, (prob > 0.5).astype(int), 2)
    want = np_metric(counts, CLASSES[cls], average)

    single = accumulate(cls(average=average), prob[:, None], true[:, None].astype(np.float32),
                        (1,))
    two = accumulate(cls(average=average), np.stack([1 - prob, prob], 1),
                     np.eye(2, dtype=np.float32)[true], (2,))

    np.testing.assert_allclose(single, want, rtol=1e-6)
    np.testing.assert_allclose(two, want, rtol=1e-6)


def test_agrees_with_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    scores = softmax_scores(N, C, skew=4)
    true = RNG.integers(0, C, N)
    pred = scores.argmax(1)
    for cls, fn in ((Precision, sklearn_metrics.precision_score),
                    (Recall, sklearn_metrics.recall_score), (F1, sklearn_metrics.f1_score)):
        for average in ("macro", "micro", None):
            want = fn(true, pred, average=average, zero_division=0)
            got = accumulate(cls(average=average), scores, true, (C,))
            if average is None:  # scikit-learn lists only the classes it saw
                got = got[np.union1d(true, pred)]
            np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(accumulate(ConfusionMatrix(), scores, true, (C,)),
                                  sklearn_metrics.confusion_matrix(true, pred, labels=range(C)))


@pytest.mark.parametrize("shape", [(1,), (3,)])
def test_confusion_matrix_counts_every_real_sample_rows_true(shape):
    c = 2 if shape == (1,) else 3
    if c == 2:
        scores, true = RNG.random((N, 1)).astype(np.float32), RNG.integers(0, 2, N)
        pred, targets = (scores[:, 0] > 0.3).astype(int), true[:, None].astype(np.float32)
        metric = ConfusionMatrix(threshold=0.3)
    else:
        scores, true = softmax_scores(N, c), RNG.integers(0, c, N)
        pred, targets, metric = scores.argmax(1), true, ConfusionMatrix()

    got = accumulate(metric, scores, targets, shape, jit=True)

    assert got.dtype == np.int32 and got.sum() == N
    np.testing.assert_array_equal(got, np_confusion(true, pred, c))


# -- AUC ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bins", [200, 20])
def test_auc_is_within_the_binning_error_of_the_exact_auc(bins):
    n = 301
    true = RNG.integers(0, 2, n)
    score = (1 / (1 + np.exp(-(RNG.normal(size=n) + 1.2 * true)))).astype(np.float32)
    exact = exact_auc(score, true == 1)

    got = float(accumulate(AUC(bins), score[:, None], true[:, None].astype(np.float32), (1,)))
    two = float(accumulate(AUC(bins), np.stack([1 - score, score], 1), true, (2,)))

    # Only (positive, negative) pairs within one bin are approximated (each counts 1/2).
    edges = np.linspace(0, 1, bins + 1)
    pos_hist = np.histogram(score[true == 1], edges)[0]
    neg_hist = np.histogram(score[true == 0], edges)[0]
    bound = 0.5 * np.sum(pos_hist * neg_hist) / (pos_hist.sum() * neg_hist.sum())
    assert abs(got - exact) <= bound + 1e-6
    assert abs(got - exact) <= 1.0 / bins  # scores spread over [0, 1]
    assert two == pytest.approx(got, abs=1e-6)


def test_auc_is_exact_when_no_pair_shares_a_bin_and_nan_for_one_class():
    score = np.array([0.05, 0.15, 0.45, 0.55, 0.85, 0.95], np.float32)[:, None]
    true = np.array([0, 1, 0, 1, 0, 1], np.float32)[:, None]
    got = float(accumulate(AUC(10), score, true, (1,)))
    assert got == pytest.approx(exact_auc(score[:, 0], true[:, 0] == 1))
    assert np.isnan(accumulate(AUC(), score, np.ones_like(true), (1,)))


# -- objects: names, checks, configs, lookup ------------------------------------------------------

def test_names_follow_the_average():
    assert [Precision().name, Recall(average="micro").name, F1(average=None).name,
            F1(average="binary").name, F1(name="f").name] == \
        ["precision", "recall_micro", "f1_per_class", "f1_binary", "f"]
    assert AUC().name == "auc" and ConfusionMatrix().name == "confusion_matrix"
    assert Precision().scalar and not F1(average=None).scalar and not ConfusionMatrix().scalar


def test_bad_arguments_and_outputs_are_refused_with_clear_errors():
    with pytest.raises(ValueError, match=r"average must be one of 'macro', 'micro', 'binary', "
                                         r"None\. Received: average='weighted'"):
        Precision(average="weighted")
    with pytest.raises(ValueError, match="threshold must be a number in"):
        Recall(threshold=1.5)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        ConfusionMatrix(num_classes=1)
    with pytest.raises(ValueError, match="num_thresholds must be an int >= 2"):
        AUC(1)
    with pytest.raises(ValueError, match=r"AUC needs a binary output.*\(5,\)"):
        AUC().build((5,))
    with pytest.raises(ValueError, match="average='binary' needs a binary output"):
        F1(average="binary").build((3,))
    with pytest.raises(ValueError, match="num_classes=4, but the output scores 3 classes"):
        Precision(num_classes=4).build((3,))
    with pytest.raises(ValueError, match=r"needs num_classes.*Precision\(num_classes=\.\.\.\)"):
        Precision().init()


def test_configs_round_trip_through_json():
    for metric in (Precision(average=None), Recall(num_classes=3), F1("micro", threshold=0.3),
                   AUC(50), ConfusionMatrix(num_classes=2)):
        assert from_config(json.loads(json.dumps(to_config(metric)))) == metric


@pytest.mark.parametrize("name, cls", [("precision", Precision), ("Recall", Recall),
                                       ("f1", F1), ("f1_score", F1), ("AUC", AUC),
                                       ("confusion_matrix", ConfusionMatrix)])
def test_get_by_name(name, cls):
    assert type(metrics.get(name)) is cls


def test_get_all_takes_lists_and_refuses_duplicate_or_reserved_names():
    found = metrics.get_all(["accuracy", Top_k(3), "f1", None])
    assert [m.name for m in found] == ["acc", "top3", "f1"]
    assert metrics.get_all(None) == [] and metrics.get_all([]) == []
    with pytest.raises(ValueError, match=r"distinct names.*\['acc'\]"):
        metrics.get_all(["acc", "accuracy"])
    with pytest.raises(ValueError, match="may not be named 'loss'"):
        metrics.get_all([Top_k(2, name="loss")])
    with pytest.raises(ValueError, match=r"Unknown metric 'presicion'\. Expected one of: "
                                         r"acc, accuracy, auc, confusion_matrix, default, f1, "
                                         r"f1_score, precision, prediction_counts, r2, recall, "
                                         r"top_k"):
        metrics.get_all(["acc", "presicion"])


# -- in a model -----------------------------------------------------------------------------------

def data(n, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5) if n_classes == 3 else \
        (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return x, labels, np.eye(n_classes, dtype=np.float32)[labels]


SEVERAL = ["accuracy", Top_k(2), "precision", F1(average=None), "confusion_matrix"]


def classifier(metric=SEVERAL, **kwargs):
    net = input_data(shape=[None, 4])
    hidden = fully_connected(net, 8, activation="relu")
    out = fully_connected(hidden, 3, activation="softmax")
    return stackit.DNN(regression(out, metric=metric, learning_rate=0.05, batch_size=16,
                                  **kwargs), seed=0)


def test_several_metrics_are_logged_under_their_names_and_match_evaluate(capsys, tmp_path):
    x, _, y = data(203)  # 13 batches of 16, the last one padded
    vx, _, vy = data(45, seed=1)
    model = classifier()
    csv_log = CSVLogger(tmp_path / "log.csv")

    history = model.fit(x, y, n_epoch=2, validation_set=(vx, vy), show_metric=True, verbose=2,
                        callbacks=csv_log)

    names = ["acc", "top2", "precision", "f1_per_class", "confusion_matrix"]
    assert list(history.history) == ["loss", *names, "val_loss",
                                     *[f"val_{n}" for n in names], "lr"]
    assert all(len(values) == 2 for values in history.history.values())
    assert history.history["confusion_matrix"][-1].sum() == 203  # every real sample, once
    assert history.history["val_confusion_matrix"][-1].sum() == 45
    # Validation ran with the final parameters: evaluate on the same data agrees.
    scores = model.evaluate(vx, vy, batch_size=16, return_dict=True)
    for name in names:
        np.testing.assert_allclose(history.history[f"val_{name}"][-1], scores[name], rtol=1e-6)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    for part in ("| acc ", "| top2 ", "| precision ", "| f1_per_class [", "| val_acc ",
                 "| val_f1_per_class ["):
        assert part in line
    assert "confusion_matrix" not in line  # kept in the history, not in the line
    with open(tmp_path / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert json.loads(rows[-1]["val_confusion_matrix"]) == \
        history.history["val_confusion_matrix"][-1].tolist()
    assert float(rows[-1]["acc"]) == pytest.approx(history.history["acc"][-1])


def test_compile_takes_a_list_of_metrics():
    x, _, y = data(64)
    model = stackit.Sequential([stackit.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=["accuracy", "top_k", "f1"])

    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)

    assert list(history.history) == ["loss", "acc", "top1", "f1", "val_loss", "val_acc",
                                     "val_top1", "val_f1", "lr"]
    assert history.history["acc"] == pytest.approx(history.history["top1"])


def test_several_estimators_log_each_metric_with_their_name():
    x, _, y3 = data(64)
    _, _, y2 = data(64, n_classes=2)
    net = input_data(shape=[None, 4])
    a = fully_connected(net, 3, activation="softmax")
    b = fully_connected(net, 1, activation="sigmoid")
    model = stackit.DNN([regression(a, metric=["acc", "f1"], name="kind", batch_size=16),
                         regression(b, loss="binary_crossentropy", metric=["acc", "auc"],
                                    name="flag", batch_size=16)], seed=0)

    history = model.fit(x, {"kind": y3, "flag": y2[:, 1:]}, n_epoch=1, verbose=0)
    scores = model.evaluate(x, {"kind": y3, "flag": y2[:, 1:]}, return_dict=True)

    assert set(history.history) == {"loss", "acc", "f1", "lr", "kind_lr", "flag_lr",
                                    "kind_loss", "kind_acc", "kind_f1", "flag_loss",
                                    "flag_acc", "flag_auc"}
    assert set(scores) == {"loss", "acc", "f1", "kind_loss", "kind_acc", "kind_f1",
                           "flag_loss", "flag_acc", "flag_auc"}
    assert scores["acc"] == scores["kind_acc"]
    assert 0 <= scores["flag_auc"] <= 1


def test_evaluate_return_dict_matches_separate_computations():
    x, labels, y = data(203)
    model = classifier(metric=["accuracy", Top_k(2), Recall(average="micro"), "f1",
                               F1(average=None)])
    model.fit(x, y, n_epoch=1, verbose=0)
    probs = model.predict(x).astype(np.float64)
    pred = probs.argmax(1)
    counts = np_confusion(labels, pred, 3)
    top2 = np.argsort(-probs, axis=1)[:, :2]

    scores = model.evaluate(x, y, batch_size=64, return_dict=True)  # 3 x 64 + 11 (padded)

    assert list(scores) == ["loss", "acc", "top2", "recall_micro", "f1", "f1_per_class"]
    assert scores["loss"] == pytest.approx(np.mean(-np.log(probs[np.arange(203), labels])),
                                           rel=1e-5)
    assert scores["acc"] == pytest.approx(np.mean(pred == labels))
    assert scores["top2"] == pytest.approx(np.mean(np.any(top2 == labels[:, None], axis=1)))
    assert scores["recall_micro"] == pytest.approx(np.mean(pred == labels))
    assert scores["f1"] == pytest.approx(np_metric(counts, "f1", "macro"))
    np.testing.assert_allclose(scores["f1_per_class"], np_metric(counts, "f1", None), rtol=1e-6)
    # tflearn's list stays the default: each metric of the estimator, in order.
    listed = model.evaluate(x, y, batch_size=64)
    assert len(listed) == 5
    assert listed[:4] == pytest.approx([scores[k] for k in list(scores)[1:5]])
    np.testing.assert_allclose(listed[4], scores["f1_per_class"])


def test_confusion_matrix_from_evaluate_and_helper_matches_numpy():
    x, labels, y = data(150)
    model = classifier(metric="accuracy")
    want = np_confusion(labels, model.predict(x).argmax(1), 3)

    listed = model.evaluate(x, y, batch_size=32, confusion_matrix=True)
    scores = model.evaluate(x, y, batch_size=32, return_dict=True, confusion_matrix=True)

    assert len(listed) == 2 and listed[0] == pytest.approx(scores["acc"])
    np.testing.assert_array_equal(listed[1], want)
    assert list(scores) == ["loss", "acc", "confusion_matrix"]
    np.testing.assert_array_equal(scores["confusion_matrix"], want)
    np.testing.assert_array_equal(metrics.confusion_matrix(model, x, y, batch_size=32), want)
    assert np.trace(want) / 150 == pytest.approx(scores["acc"])


def test_bad_metrics_in_a_model_are_refused_before_compiling():
    net = input_data(shape=[None, 4])
    out = fully_connected(net, 3, activation="softmax")
    with pytest.raises(ValueError, match=r"Unknown metric 'f2'\. Expected one of: .*auc.*f1"):
        regression(out, metric=["accuracy", "f2"])
    with pytest.raises(ValueError, match="regression 'Regression.*': AUC needs a binary output"):
        stackit.DNN(regression(out, metric=["accuracy", "auc"]))
    model = stackit.Sequential([stackit.layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="Unknown metric 'bogus'"):
        model.compile(metrics=["accuracy", "bogus"])


# -- accumulated on the device, read at refreshes only ---------------------------------------------

class Spy:
    """Counts reads of the accumulators, and host (non-traced) calls of `update`."""

    def __init__(self, monkeypatch):
        self.reads = 0
        self.host_updates = 0
        read = loop.read

        def counting_read(*args, **kwargs):
            self.reads += 1
            return read(*args, **kwargs)

        monkeypatch.setattr(loop, "read", counting_read)
        update = ConfusionMatrix.update

        def watched_update(metric, stats, y_pred, *args):
            self.host_updates += not isinstance(y_pred, jax.core.Tracer)
            return update(metric, stats, y_pred, *args)

        monkeypatch.setattr(ConfusionMatrix, "update", watched_update)
        monkeypatch.setattr(loop, "REFRESH_SECONDS", 1e9)  # no time-based refresh


def test_metrics_are_read_once_per_refresh_never_per_batch(monkeypatch):
    x, _, y = data(640)
    vx, _, vy = data(100, seed=1)
    model = classifier()
    spy = Spy(monkeypatch)

    model.evaluate(x, y, batch_size=8)  # 80 batches (3 dispatches)
    assert spy.reads == 1

    spy.reads = 0
    model.fit(x, y, n_epoch=2, batch_size=8, validation_set=(vx, vy), verbose=0)
    # 80 steps in 3 dispatches per epoch: the last-chunk refresh, the epoch's final read and
    # the validation's, whatever the number of batches.
    assert spy.reads == 2 * 3
    assert spy.host_updates == 0  # updates run inside the compiled chunks only
