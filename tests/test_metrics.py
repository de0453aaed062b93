"""Accuracy, Top_k and R2 against numpy, with masked, batch-by-batch accumulation."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stackit import metrics
from stackit._registry import from_config, to_config
from stackit.metrics import R2, Accuracy, Top_k

RNG = np.random.default_rng(0)
N, C = 12, 5


_JITTED: dict = {}


def evaluate(metric, *batches):
    """Accumulates (y_pred, y_true, mask) batches under jit and returns the result."""
    if metric not in _JITTED:   # one compiled update per metric (and input shapes)
        _JITTED[metric] = jax.jit(metric.update)
    update = _JITTED[metric]
    stats = metric.init()
    for y_pred, y_true, mask in batches:
        stats = update(stats, jnp.asarray(y_pred), jnp.asarray(y_true),
                       jnp.asarray(mask, jnp.float32))
    return float(metric.result(stats))


def full(y_pred, y_true):
    return (y_pred, y_true, np.ones(len(y_pred)))


@pytest.fixture
def scores():
    return RNG.random((N, C)).astype(np.float32)


@pytest.fixture
def labels():
    return RNG.integers(0, C, N)


# -- Accuracy -------------------------------------------------------------------------------------

def test_accuracy_with_one_hot_and_integer_labels(scores, labels):
    want = np.mean(scores.argmax(-1) == labels)
    assert evaluate(Accuracy(), full(scores, np.eye(C, dtype=np.float32)[labels])) == \
        pytest.approx(want)
    assert evaluate(Accuracy(), full(scores, labels)) == pytest.approx(want)
    assert evaluate(Accuracy(), full(scores, labels[:, None])) == pytest.approx(want)
    assert float(metrics.accuracy_op(scores, labels)) == pytest.approx(want)


@pytest.mark.parametrize("shape", [(N,), (N, 1)])
def test_binary_accuracy_thresholds_a_single_output_at_one_half(shape):
    prob = RNG.random(N).astype(np.float32)
    truth = RNG.integers(0, 2, N).astype(np.float32)
    want = np.mean((prob > 0.5) == (truth > 0.5))
    assert evaluate(Accuracy(), full(prob.reshape(shape), truth.reshape(shape))) == \
        pytest.approx(want)


# -- Top_k ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_matches_numpy(scores, labels, k):
    top = np.argsort(-scores, axis=-1)[:, :k]
    want = np.mean([label in row for label, row in zip(labels, top, strict=True)])
    assert evaluate(Top_k(k), full(scores, np.eye(C)[labels])) == pytest.approx(want)
    assert evaluate(Top_k(k), full(scores, labels)) == pytest.approx(want)
    assert float(metrics.top_k_op(scores, np.eye(C)[labels], k)) == pytest.approx(want)


def test_top_k_counts_ties_as_in_the_top_k_like_tensorflow():
    y_pred = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]], np.float32)
    assert evaluate(Top_k(1), full(y_pred, np.array([1, 0]))) == pytest.approx(0.5)
    assert evaluate(Top_k(2), full(y_pred, np.array([1, 0]))) == pytest.approx(1.0)


def test_top_k_is_named_as_tflearn_and_refuses_bad_k():
    assert Top_k(3).name == "top3" and Top_k(3, name="t").name == "t"
    for k in (0, -1, 1.5):
        with pytest.raises(ValueError, match="k must be a positive int"):
            Top_k(k)


# -- R2 -------------------------------------------------------------------------------------------

def np_r2(pred, true):
    return 1 - np.sum((true - pred) ** 2) / np.sum((true - true.mean()) ** 2)


@pytest.mark.parametrize("shape", [(N,), (N, 3)])
def test_r2_matches_numpy(shape):
    true = RNG.normal(size=shape)
    pred = true + 0.3 * RNG.normal(size=shape)
    got = evaluate(R2(), full(pred.astype(np.float32), true.astype(np.float32)))
    assert got == pytest.approx(np_r2(pred, true), rel=1e-5)
    assert float(metrics.r2_op(pred, true)) == pytest.approx(np_r2(pred, true), rel=1e-5)


def test_r2_keeps_its_precision_for_targets_with_a_large_mean():
    true = 10_000 + RNG.normal(size=(400,))
    pred = true + 0.5 * RNG.normal(size=(400,))
    batches = [full(pred[i:i + 50].astype(np.float32), true[i:i + 50].astype(np.float32))
               for i in range(0, 400, 50)]
    # float32 rounding of the targets themselves costs ~1e-3 of SS_tot at this scale.
    assert evaluate(R2(), *batches) == pytest.approx(np_r2(pred, true), abs=0.02)


# -- accumulation ---------------------------------------------------------------------------------

CASES = [
    (Accuracy(), lambda: (RNG.random((N, C)), np.eye(C)[RNG.integers(0, C, N)])),
    (Top_k(2), lambda: (RNG.random((N, C)), RNG.integers(0, C, N))),
    (R2(), lambda: (RNG.normal(size=(N, 2)), RNG.normal(size=(N, 2)))),
]


@pytest.mark.parametrize("metric, make", CASES, ids=["Accuracy", "Top_k", "R2"])
def test_two_batches_accumulate_to_one_batch_of_both(metric, make):
    (p1, t1), (p2, t2) = make(), make()
    p1, p2 = p1[:7].astype(np.float32), p2.astype(np.float32)
    t1 = t1[:7]
    together = evaluate(metric, full(np.concatenate([p1, p2]), np.concatenate([t1, t2])))
    assert evaluate(metric, full(p1, t1), full(p2, t2)) == pytest.approx(together, rel=1e-5)


@pytest.mark.parametrize("metric, make", CASES, ids=["Accuracy", "Top_k", "R2"])
def test_masked_samples_do_not_count(metric, make):
    pred, true = make()
    pred = pred.astype(np.float32)
    mask = np.ones(N)
    mask[8:] = 0
    padded_pred = pred.copy()
    padded_pred[8:] = np.nan          # whatever the padding holds, it must not leak in
    want = evaluate(metric, full(pred[:8], true[:8]))
    assert evaluate(metric, (padded_pred, true, mask)) == pytest.approx(want, rel=1e-5)
    # An all-padding batch changes nothing.
    zero = np.zeros(N)
    assert evaluate(metric, full(pred[:8], true[:8]), (pred, true, zero)) == \
        pytest.approx(want, rel=1e-5)


# -- lookup and custom metrics -------------------------------------------------------------------

@pytest.mark.parametrize("name, cls", [("accuracy", Accuracy), ("acc", Accuracy),
                                       ("default", Accuracy), ("Accuracy", Accuracy),
                                       ("top_k", Top_k), ("R2", R2), ("r2", R2)])
def test_get_by_name(name, cls):
    assert type(metrics.get(name)) is cls


def test_get_passes_instances_classes_and_none():
    top = Top_k(3)
    assert metrics.get(top) is top
    assert type(metrics.get(R2)) is R2
    assert metrics.get(None) is None
    with pytest.raises(ValueError,
                       match=r"Unknown metric 'f2'.*accuracy.*auc.*f1.*precision.*r2.*top_k"):
        metrics.get("f2")
    with pytest.raises(TypeError, match="metric"):
        metrics.get(3)


def test_custom_callable_metric_is_a_masked_per_sample_mean():
    def mean_abs_error(y_pred, y_true):
        return jnp.mean(jnp.abs(y_pred - y_true))

    metric = metrics.get(mean_abs_error)
    assert metric.name == "mean_abs_error"
    pred, true = RNG.normal(size=(N, 3)), RNG.normal(size=(N, 3))
    mask = (np.arange(N) < 9).astype(float)
    got = evaluate(metric, (pred.astype(np.float32), true.astype(np.float32), mask))
    assert got == pytest.approx(np.abs(pred[:9] - true[:9]).mean(), rel=1e-5)


def test_metric_configs_round_trip_through_json():
    for metric in (Accuracy(), Top_k(4), R2(name="r2")):
        rebuilt = from_config(json.loads(json.dumps(to_config(metric))))
        assert rebuilt == metric
