"""Mixup and CutMix (`fit(mix=...)`): the mixed batch against numpy, lambda against its Beta
law, CutMix's box, padding, what the train step computes, learning, resume, and the checks."""

from __future__ import annotations

import glob
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import stackit
from stackit import checkpoint, mixing
from stackit.data_utils import to_categorical
from stackit.layers import fully_connected, input_data, merge, regression

KEY = jax.random.PRNGKey(42)
#: The pure function, compiled as the train step compiles it (one compilation per setting).
mix_batch = jax.jit(mixing.mix_batch, static_argnums=(4, 5))


def _ones(b):
    return jnp.ones((b,), jnp.float32)


def np_blend(a, b, lam):
    return lam * a.astype(np.float64) + (1.0 - lam) * b.astype(np.float64)


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# ------------------------------------------------------------------------------ the pure function


def test_mixup_mixes_every_input_and_target_with_one_pairing_as_numpy_does():
    rng = np.random.default_rng(0)
    b = 8
    x = {"a": rng.normal(size=(b, 5)).astype(np.float32),
         "img": rng.integers(0, 256, size=(b, 4, 4, 2)).astype(np.uint8)}
    labels = rng.integers(0, 3, b)
    y = {"onehot": np.eye(3, dtype=np.float32)[labels], "labels": labels.astype(np.int32),
         "<sample_weight>/R": rng.uniform(0.5, 2.0, b).astype(np.float32)}

    mixed = mix_batch(KEY, x, y, _ones(b), stackit.Mixup(0.4), frozenset({"labels"}))

    perm, lam = np.asarray(mixed.perm), float(mixed.lam)
    assert sorted(perm) == list(range(b)) and 0.0 <= lam <= 1.0 and mixed.box is None
    for name in x:  # the same lambda and partners for every input
        np.testing.assert_allclose(mixed.x[name], np_blend(x[name], x[name][perm], lam),
                                   rtol=1e-6, atol=1e-4)
    assert mixed.x["img"].dtype == jnp.float32  # uint8 images are averaged as float32
    for name in ("onehot", "<sample_weight>/R"):  # weight = lam w_a + (1 - lam) w_b
        np.testing.assert_allclose(mixed.y[name], np_blend(y[name], y[name][perm], lam),
                                   rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(mixed.y["labels"], labels)  # mixed through the loss
    np.testing.assert_array_equal(mixed.partner["labels"], labels[perm])
    again = mix_batch(KEY, x, y, _ones(b), stackit.Mixup(0.4), frozenset({"labels"}))
    np.testing.assert_array_equal(again.perm, perm)  # deterministic given the key
    assert float(again.lam) == lam


def test_lambda_follows_beta_alpha_alpha():
    x, y = {"x": jnp.zeros((4, 2))}, {"y": jnp.zeros((4, 2))}
    mixes = [stackit.Mixup(0.2), stackit.Mixup(1.0), stackit.Mixup(1.0, prob=0.5)]

    @jax.jit
    @jax.vmap
    def lams(key):
        return [mixing.mix_batch(key, x, y, _ones(4), mix).lam for mix in mixes]

    drawn = [np.asarray(lam) for lam in lams(jax.random.split(KEY, 3000))]
    for alpha, lam in zip((0.2, 1.0), drawn, strict=False):
        assert stats.kstest(lam, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
        assert lam.mean() == pytest.approx(0.5, abs=0.03)
        assert lam.var() == pytest.approx(1.0 / (4.0 * (2.0 * alpha + 1.0)), rel=0.1)
    assert np.mean(drawn[2] == 1.0) == pytest.approx(0.5, abs=0.05)  # batches left alone


def test_cutmix_pastes_one_box_and_recomputes_lambda_from_its_area():
    rng = np.random.default_rng(1)
    b, h, w = 4, 12, 16
    x = {"img": rng.normal(size=(b, h, w, 3)).astype(np.float32),
         "raw": rng.integers(0, 256, size=(b, h, w, 1)).astype(np.uint8)}
    y = {"y": np.eye(4, dtype=np.float32)[rng.integers(0, 4, b)]}
    mix_fn = jax.jit(lambda k: mixing.mix_batch(k, x, y, _ones(b), stackit.CutMix(1.0)))
    sizes = []
    for key in jax.random.split(KEY, 100):
        mixed = mix_fn(key)
        perm, lam = np.asarray(mixed.perm), float(mixed.lam)
        top, bottom, left, right = (int(v) for v in mixed.box)
        assert 0 <= top <= bottom <= h and 0 <= left <= right <= w
        area = (bottom - top) * (right - left)
        assert lam == pytest.approx(1.0 - area / (h * w), abs=1e-7)
        for name, v in x.items():
            expected = v.copy()
            expected[:, top:bottom, left:right] = v[perm][:, top:bottom, left:right]
            np.testing.assert_array_equal(mixed.x[name], expected)
            assert mixed.x[name].dtype == v.dtype
        np.testing.assert_allclose(mixed.y["y"], np_blend(y["y"], y["y"][perm], lam),
                                   rtol=1e-6, atol=1e-7)
        if 0 < top and bottom < h and 0 < left and right < w:  # not clipped by the border
            sizes.append((bottom - top, right - left))
    assert sizes
    for bh, bw in sizes:  # floor(H s) by floor(W s) for one s = sqrt(1 - lam_drawn)
        assert max(bh / h, bw / w) < min((bh + 1) / h, (bw + 1) / w)


def test_padding_rows_pair_only_among_themselves():
    mask = jnp.asarray([1, 0, 1, 1, 0, 1, 1, 0, 0, 1], jnp.float32)
    real = np.asarray(mask) > 0
    x = {"x": np.where(real, 1.0, 1e6).astype(np.float32).reshape(-1, 1).repeat(3, axis=1)}
    y = {"y": np.where(real, 0.0, 1e6).astype(np.float32)}
    pair_rows = jax.jit(mixing.pair_rows)
    shuffled = 0
    for key in jax.random.split(KEY, 50):
        perm = np.asarray(pair_rows(key, mask))
        assert sorted(perm) == list(range(10))
        assert real[perm[real]].all()  # real rows pair with real rows, padding stays in place
        np.testing.assert_array_equal(perm[~real], np.flatnonzero(~real))
        shuffled += np.any(perm[real] != np.flatnonzero(real))
        mixed = mix_batch(key, x, y, mask, stackit.Mixup(1.0), ())
        assert np.all(np.asarray(mixed.x["x"])[real] < 2) and np.all(mixed.y["y"][real] == 0)
    assert shuffled > 40


# ------------------------------------------------------------------------------ in the train step


def test_each_train_step_trains_on_the_numpy_mixed_batch_and_padding_does_not_count():
    rng = np.random.default_rng(2)
    n, batch, lr = 10, 8, 0.1  # the second batch: 2 real rows, 6 padding
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = rng.normal(size=(n, 2)).astype(np.float32)
    net = input_data(shape=[None, 3])
    dense = fully_connected(net, 2, activation="linear")
    reg = regression(dense, optimizer="sgd", loss="mean_square", metric=None,
                     learning_rate=lr, batch_size=batch)
    model = stackit.DNN(reg, seed=0, clip_gradients=0)
    weights, bias = (model.get_weights(dense.W).astype(np.float64),
                     model.get_weights(dense.b).astype(np.float64))
    key = jnp.asarray(np.asarray(model.train_state.key))  # the state is donated to fit

    history = model.fit(x, y, n_epoch=1, shuffle=False, verbose=0, mix=stackit.Mixup(0.5))

    total = 0.0
    for rows in (np.arange(8), np.array([8, 9, -1, -1, -1, -1, -1, -1])):
        mask = (rows >= 0).astype(np.float32)
        xb, yb = x[np.maximum(rows, 0)], y[np.maximum(rows, 0)]
        drawn = mix_batch(mixing.step_key(key), {"x": xb}, {"y": yb}, jnp.asarray(mask),
                          stackit.Mixup(0.5), ())
        perm, lam = np.asarray(drawn.perm), float(drawn.lam)
        xm, ym = np_blend(xb, xb[perm], lam), np_blend(yb, yb[perm], lam)
        err = xm @ weights + bias - ym
        per_sample = np.mean(err**2, axis=1)
        total += np.sum(mask * per_sample)
        grad_out = 2.0 * err / 2 * (mask / mask.sum()).reshape(-1, 1)
        weights, bias = weights - lr * xm.T @ grad_out, bias - lr * grad_out.sum(axis=0)
        key = jax.random.split(key)[0]  # the step's key chain (one estimator)

    np.testing.assert_allclose(model.get_weights(dense.W), weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights(dense.b), bias, rtol=1e-5, atol=1e-6)
    assert history.history["loss"][0] == pytest.approx(total / n, rel=1e-5)


def test_mixed_targets_give_the_loss_of_the_formula_for_every_kind_of_target():
    rng = np.random.default_rng(3)
    n = 12
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = rng.integers(0, 3, n)
    net = input_data(shape=[None, 4])
    kinds = {"onehot": {"loss": "categorical_crossentropy"},
             "sparse": {"loss": "sparse_categorical_crossentropy"},
             "hot": {"loss": "categorical_crossentropy", "to_one_hot": True, "n_classes": 3}}
    layers = {}
    for name, kwargs in kinds.items():
        layers[name] = fully_connected(net, 3, activation="softmax")
        regression(layers[name], name=name, batch_size=n, **kwargs)
    model = stackit.DNN(layers["onehot"], seed=1)
    initial = {name: (model.get_weights(d.W), model.get_weights(d.b)) for name, d in
               layers.items()}
    drawn = mix_batch(mixing.step_key(model.train_state.key), {"x": x}, {}, _ones(n),
                      stackit.Mixup(1.0), ())
    perm, lam = np.asarray(drawn.perm), float(drawn.lam)
    sample_weight = rng.uniform(0.2, 3.0, n)
    targets = {"onehot": np.eye(3)[labels], "sparse": labels, "hot": labels}

    history = model.fit(x, targets, n_epoch=1, shuffle=False, verbose=0,
                        sample_weight=sample_weight, mix=stackit.Mixup(1.0))

    w = sample_weight * n / sample_weight.sum()  # normalized to mean 1, then mixed
    for name, (weights, bias) in initial.items():  # one step: the loss of the initial values
        log_p = np_log_softmax(np_blend(x, x[perm], lam) @ weights + bias)
        own, partner = -log_p[np.arange(n), labels], -log_p[np.arange(n), labels[perm]]
        expected = np.sum(np_blend(w, w[perm], lam) * np_blend(own, partner, lam)) / n
        assert history.history[f"{name}_loss"][0] == pytest.approx(expected, rel=1e-5), name


# ------------------------------------------------------------------------------ end to end


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], digits.target[order]


@pytest.mark.parametrize("mix", [stackit.Mixup(0.2), stackit.CutMix(1.0, prob=0.5)],
                         ids=["mixup", "cutmix"])
def test_training_with_mixing_learns_and_evaluate_predict_do_not_mix(mix):
    x, labels = _digits()
    y = to_categorical(labels, 10)
    net = input_data(shape=[None, 8, 8, 1])
    net = fully_connected(net, 64, activation="relu")
    net = fully_connected(net, 10, activation="softmax")
    model = stackit.DNN(regression(net, optimizer="adam", learning_rate=0.01, batch_size=64),
                        seed=0)

    history = model.fit(x[:1400], y[:1400], n_epoch=10, verbose=0, mix=mix,
                        validation_set=(x[1400:], y[1400:]))

    scores = model.evaluate(x[1400:], y[1400:], return_dict=True)
    assert scores["acc"] > 0.85
    probs = model.predict(x[1400:])
    np.testing.assert_array_equal(probs, model.predict(x[1400:]))
    assert np.mean(probs.argmax(axis=1) == labels[1400:]) == pytest.approx(scores["acc"])
    ce = -np.log(np.clip(probs[np.arange(len(probs)), labels[1400:]], 1e-7, 1.0))
    assert scores["loss"] == pytest.approx(ce.mean(), rel=1e-4)  # no mixing in evaluate
    assert history.history["val_loss"][-1] == pytest.approx(scores["loss"], rel=1e-5)


def _resume_model(path):
    net = input_data(shape=[None, 6])
    net = fully_connected(net, 16, activation="relu")
    net = stackit.dropout(net, 0.7)
    net = regression(fully_connected(net, 3, activation="softmax"), batch_size=8)
    return stackit.DNN(net, checkpoint_path=path, seed=3)


MIX = stackit.Mixup(0.3)


def _resume_fit(model, mix=MIX, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(396, 6)).astype(np.float32)  # 50 steps an epoch, the last one short
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 396)]
    return model.fit(x, y, n_epoch=2, snapshot_step=20, verbose=0, mix=mix, **kwargs)


def _leaves(model):
    ts = model.train_state
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.opt_state, ts.step, ts.key))]


def test_resume_with_mixup_is_bitwise(tmp_path):
    full = _resume_model(str(tmp_path / "full" / "m"))
    history = _resume_fit(full)
    first = sorted(glob.glob(str(tmp_path / "full" / "m-*.npz")),
                   key=lambda p: int(p[:-4].rsplit("-", 1)[1]))[0]
    assert first.endswith("m-25.npz")  # mid-epoch: two dispatches of 25 steps an epoch
    (tmp_path / "again").mkdir()
    shutil.copy(first, tmp_path / "again")
    resumed = _resume_model(str(tmp_path / "again" / "m"))
    with pytest.raises(ValueError, match=r"trained with mix=Mixup\(alpha=0.3"):
        _resume_fit(resumed, mix=stackit.Mixup(0.4), resume=True)
    again = _resume_fit(resumed, mix=None, resume=True)  # the snapshot's Mixup(0.3)
    assert resumed.run_mix == stackit.Mixup(0.3)
    for mine, theirs in zip(_leaves(resumed), _leaves(full), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert again.history["loss"] == pytest.approx(history.history["loss"], rel=1e-6)


def test_a_snapshot_with_a_bad_mix_is_refused(tmp_path):
    model = _resume_model(str(tmp_path / "m"))
    _resume_fit(model, mix=stackit.Mixup(0.5))
    path = model.save(str(tmp_path / "saved"))
    arrays, meta = checkpoint.load(path)
    meta["mix"] = {"type": "Mixup", "alpha": -1.0, "prob": 1.0}
    checkpoint.save(str(tmp_path / "bad.npz"), arrays, meta)
    fresh = _resume_model(str(tmp_path / "other"))
    with pytest.raises(checkpoint.CheckpointError, match="alpha must be a finite number > 0"):
        fresh.load(str(tmp_path / "bad.npz"))
    fresh.load(path)
    assert fresh.run_mix == stackit.Mixup(0.5)


# ------------------------------------------------------------------------------ checks


@pytest.mark.parametrize("make, error, match", [
    (lambda: stackit.Mixup(0.0), ValueError, "alpha must be a finite number > 0"),
    (lambda: stackit.CutMix(-1.0), ValueError, "alpha"),
    (lambda: stackit.Mixup(float("nan")), ValueError, "alpha"),
    (lambda: stackit.Mixup("0.2"), TypeError, "alpha must be a number"),
    (lambda: stackit.Mixup(0.2, prob=0.0), ValueError, r"prob .* must be in \(0, 1\]"),
    (lambda: stackit.CutMix(1.0, prob=1.5), ValueError, "prob"),
])
def test_bad_settings_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _refused(model, X, Y, mix, error, match):
    with pytest.raises(error, match=match):
        model.fit(X, Y, n_epoch=1, verbose=0, mix=mix)
    assert not model.steps._compiled and model.steps.train_chunk._cache_size() == 0


def test_what_cannot_mix_is_refused_before_compiling():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), np.eye(2)[rng.integers(0, 2, 16)]
    net = input_data(shape=[None, 4])
    model = stackit.DNN(regression(fully_connected(net, 2, activation="softmax")))
    _refused(model, x, y, "mixup", TypeError, r"mix must be stackit\.Mixup")
    _refused(model, x, y, stackit.CutMix(), ValueError,
             r"CutMix .* \(height, width, channels\)\. Received: input 'InputData' of shape "
             r"\(None, 4\)")

    stackit.reset_default_graph()
    tokens = input_data(shape=[None, 5], dtype="int32")
    out = fully_connected(stackit.embedding(tokens, 10, 4), 2, activation="softmax")
    model = stackit.DNN(regression(out))
    _refused(model, rng.integers(0, 10, (16, 5)), y, stackit.Mixup(), ValueError,
             "input .InputData. with dtype int32")

    stackit.reset_default_graph()
    a, b = input_data(shape=[None, 4, 4, 1]), input_data(shape=[None, 5, 5, 1])
    out = fully_connected(merge([fully_connected(a, 3), fully_connected(b, 3)], "concat"), 2,
                          activation="softmax")
    model = stackit.DNN(regression(out))
    _refused(model, [rng.normal(size=(16, 4, 4, 1)), rng.normal(size=(16, 5, 5, 1))], y,
             stackit.CutMix(), ValueError, r"share one \(height, width\)")

    stackit.reset_default_graph()
    net = input_data(shape=[None, 4])
    out = fully_connected(net, 1)
    model = stackit.DNN(regression(out, placeholder=None, loss=stackit.math_ops.reduce_mean(
        out * out)))
    _refused(model, x, None, stackit.Mixup(), ValueError, "loss tensor of the graph")
