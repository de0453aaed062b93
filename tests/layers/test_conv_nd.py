"""1-D/3-D convolutions, transposes, atrous, depthwise, highway, upsampling and N-d pooling
against explicit numpy loops (TensorFlow's padding rule), plus shapes, gradients, configs and
the errors each layer gives at connection time."""

from __future__ import annotations

import inspect
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit.layers import conv as C
from stackit.layers.conv import (
    AtrousConv2D,
    AvgPool1D,
    AvgPool3D,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    GlobalAvgPool,
    GlobalMaxPool,
    GroupedConv2D,
    HighwayConv1D,
    HighwayConv2D,
    MaxPool1D,
    MaxPool3D,
    UpSample2D,
    Upscore,
    Upscore3D,
)
from stackit.layers.core import input_data

ACTS = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}


# -- numpy references ----------------------------------------------------------------------------

def tf_pads(size, k_eff, stride, padding):
    """(output size, pad before, pad after) as TensorFlow computes them."""
    if padding == "valid":
        return (size - k_eff) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return out, total // 2, total - total // 2


def _tuple(v, rank):
    """An int, `rank` ints, or TensorFlow's `[1, *v, 1]`, as `rank` ints."""
    if isinstance(v, int):
        return (v,) * rank
    return tuple(v[1:-1]) if len(v) == rank + 2 else tuple(v)


def np_conv(x, w, strides=1, dilation=1, padding="same"):
    """N-d correlation of channels-last `x` with `w` (*k, in, out), no bias."""
    rank = x.ndim - 2
    s, d = _tuple(strides, rank), _tuple(dilation, rank)
    k_eff = [(k - 1) * dd + 1 for k, dd in zip(w.shape[:rank], d, strict=True)]
    geo = [tf_pads(n, k, ss, padding) for n, k, ss in zip(x.shape[1:-1], k_eff, s, strict=True)]
    xp = np.pad(x, [(0, 0), *[(b, a) for _, b, a in geo], (0, 0)])
    y = np.zeros((x.shape[0], *[o for o, _, _ in geo], w.shape[-1]))
    for pos in itertools.product(*[range(o) for o, _, _ in geo]):
        window = tuple(slice(p * ss, p * ss + k, dd)
                       for p, ss, k, dd in zip(pos, s, k_eff, d, strict=True))
        win = xp[(slice(None), *window)]
        y[(slice(None), *pos)] = np.tensordot(win, w, axes=(list(range(1, rank + 2)),
                                                            list(range(rank + 1))))
    return y


def np_conv_transpose(x, w, out_sizes, strides=1, dilation=1, padding="same"):
    """Scatter form: input position i and tap j add `x[i] @ w[j].T` at `i*s + j*d - before`,
    `before` being what the forward convolution (out_sizes -> x's sizes) pads first."""
    rank = x.ndim - 2
    s, d = _tuple(strides, rank), _tuple(dilation, rank)
    kernel = w.shape[:rank]
    before = []
    for n_in, n_out, k, ss, dd in zip(x.shape[1:-1], out_sizes, kernel, s, d, strict=True):
        total = max((n_in - 1) * ss + (k - 1) * dd + 1 - n_out, 0) if padding == "same" else 0
        before.append(total // 2)
    y = np.zeros((x.shape[0], *out_sizes, w.shape[rank]))
    for i in itertools.product(*[range(n) for n in x.shape[1:-1]]):
        for j in itertools.product(*[range(k) for k in kernel]):
            o = [ii * ss + jj * dd - b
                 for ii, jj, ss, dd, b in zip(i, j, s, d, before, strict=True)]
            if all(0 <= oo < n for oo, n in zip(o, out_sizes, strict=True)):
                y[(slice(None), *o)] += x[(slice(None), *i)] @ w[j].T
    return y


def np_pool(x, kernel, strides, padding, kind):
    rank = x.ndim - 2
    k = _tuple(kernel, rank)
    s = k if strides is None else _tuple(strides, rank)
    geo = [tf_pads(n, kk, ss, padding) for n, kk, ss in zip(x.shape[1:-1], k, s, strict=True)]
    pads = [(0, 0), *[(b, a) for _, b, a in geo], (0, 0)]
    xp = np.pad(x, pads, constant_values=-np.inf if kind == "max" else 0.0)
    real = np.pad(np.ones_like(x), pads)
    y = np.zeros((x.shape[0], *[o for o, _, _ in geo], x.shape[-1]))
    axes = tuple(range(1, rank + 1))
    for pos in itertools.product(*[range(o) for o, _, _ in geo]):
        sl = (slice(None),
              *[slice(p * ss, p * ss + kk) for p, ss, kk in zip(pos, s, k, strict=True)])
        if kind == "max":
            y[(slice(None), *pos)] = xp[sl].max(axis=axes)
        else:   # TensorFlow's 'same' average counts only the real values
            y[(slice(None), *pos)] = xp[sl].sum(axis=axes) / real[sl].sum(axis=axes)
    return y


def ref_conv(layer, x, p):
    y = np_conv(x, p["W"], layer.strides, layer.dilation_rate, layer.padding)
    return ACTS[layer.activation](y + p["b"] if layer.bias else y)


def ref_transpose(layer, x, p):
    sizes = layer.spatial_out(x.shape[1:])
    y = np_conv_transpose(x, p["W"], sizes, layer.strides, layer.dilation_rate, layer.padding)
    return ACTS[layer.activation](y + p["b"] if layer.bias else y)


def ref_grouped(layer, x, p):
    w = p["W"]   # input channel k -> outputs k * multiplier ... (k + 1) * multiplier - 1
    parts = [np_conv(x[..., k:k + 1], w[:, :, k:k + 1, :], layer.strides, 1, layer.padding)
             for k in range(x.shape[-1])]
    y = np.concatenate(parts, axis=-1)
    return ACTS[layer.activation](y + p["b"] if layer.bias else y)


def ref_highway(layer, x, p):
    conv = np_conv(x, p["W"], layer.strides, 1, layer.padding)
    h = ACTS[layer.activation](conv + p["b"])
    t = 1 / (1 + np.exp(-(conv * p["W_T"] + p["b_T"])))
    return h * t + conv * (1 - t)


def ref_upscore(layer, x, p):
    sizes = layer.output_shape(x.shape[1:])[:-1]
    return np_conv_transpose(x, p["up_filter"], sizes, layer.strides, 1, "same")


def ref_upsample(layer, x, p):
    a, b = _tuple(layer.size, 2)
    y = np.zeros((x.shape[0], x.shape[1] * a, x.shape[2] * b, x.shape[3]))
    for i, j in itertools.product(range(y.shape[1]), range(y.shape[2])):
        y[:, i, j] = x[:, i // a, j // b]
    return y


def ref_pool(kind):
    return lambda layer, x, p: np_pool(x, layer.kernel_size, layer.strides, layer.padding, kind)


def ref_global(kind):
    return lambda layer, x, p: getattr(x, kind)(axis=tuple(range(1, x.ndim - 1)))


CASES = [
    (Conv1D(4, 3, strides=2, activation="relu"), (9, 3), ref_conv),
    (Conv1D(3, 2, padding="valid", dilation_rate=2, bias=False), (9, 2), ref_conv),
    (Conv1D(2, [1, 4, 1], strides=[1, 3, 1], activation="tanh"), (10, 2), ref_conv),
    (Conv2D(3, 3, dilation_rate=2), (6, 7, 2), ref_conv),
    (Conv3D(2, (2, 3, 1), strides=(1, 2, 1)), (3, 5, 4, 2), ref_conv),
    (Conv3D(3, 2, strides=2, padding="valid", activation="relu"), (4, 5, 4, 1), ref_conv),
    (AtrousConv2D(2, 3, dilation_rate=2, padding="valid"), (7, 7, 1), ref_conv),
    (AtrousConv2D(2, (2, 3), dilation_rate=(2, 1)), (5, 6, 2), ref_conv),
    (GroupedConv2D(2, 3, strides=2, bias=True), (5, 6, 3), ref_grouped),
    (GroupedConv2D(3, (1, 2), padding="valid", activation="relu"), (4, 4, 2), ref_grouped),
    (Conv2DTranspose(3, 3, strides=2), (3, 4, 2), ref_transpose),
    (Conv2DTranspose(2, (2, 3), strides=(2, 1), padding="valid", output_size=(7, 6, 2)),
     (3, 4, 2), ref_transpose),
    (Conv2DTranspose(2, 3, strides=2, output_size=(5, 8), activation="relu"), (3, 4, 1),
     ref_transpose),
    (Conv2DTranspose(2, 2, strides=2, dilation_rate=2, bias=False), (3, 3, 2), ref_transpose),
    (Conv3DTranspose(2, 2, strides=2, output_size=(3, 4, 4)), (2, 2, 2, 3), ref_transpose),
    (Conv3DTranspose(1, (1, 2, 3), strides=(1, 2, 2), padding="valid"), (2, 2, 3, 2),
     ref_transpose),
    (Upscore(3, kernel_size=4, strides=2), (3, 3, 4), ref_upscore),
    (Upscore(2, shape=(6, 5), kernel_size=3, strides=(2, 2)), (3, 3, 2), ref_upscore),
    (Upscore3D(2, shape=(4, 4, 3)), (2, 2, 2, 2), ref_upscore),
    (UpSample2D((2, 3)), (2, 3, 2), ref_upsample),
    (HighwayConv1D(3, 3, activation="tanh"), (6, 3), ref_highway),
    (HighwayConv2D(2, 2, strides=2, padding="valid", activation="relu"), (5, 5, 2),
     ref_highway),
    (MaxPool1D(2), (7, 3), ref_pool("max")),
    (AvgPool1D(3, 2), (7, 2), ref_pool("avg")),
    (MaxPool3D((2, 3, 2), (1, 2, 2), "valid"), (3, 5, 4, 2), ref_pool("max")),
    (AvgPool3D(2), (3, 5, 4, 2), ref_pool("avg")),
    (AvgPool3D((2, 2, 1), strides=1, padding="valid"), (3, 3, 2, 1), ref_pool("avg")),
    (GlobalAvgPool(), (5, 2), ref_global("mean")),
    (GlobalMaxPool(), (2, 3, 4, 2), ref_global("max")),
    (GlobalAvgPool(), (2, 2, 3, 4, 3), ref_global("mean")),
]
IDS = [f"{type(layer).__name__}-{i}" for i, (layer, _, _) in enumerate(CASES)]


def _build(layer, in_shape, seed):
    """Random normal params (every parameter, so the reference checks the computation, not
    the initializer), the declared output shape, and a batch of 2."""
    found = {}

    def trace(key):
        params, state, out = layer.init(key, in_shape)
        found["out"] = tuple(out)
        return params, state

    shapes, _ = jax.eval_shape(trace, jax.random.PRNGKey(0))
    rng = np.random.default_rng(seed)
    params = {k: jnp.asarray(rng.normal(size=v.shape), jnp.float32) for k, v in shapes.items()}
    x = jnp.asarray(rng.normal(size=(2, *in_shape)), jnp.float32)
    return params, found["out"], x


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_forward_matches_numpy_and_gradients_are_finite(i):
    layer, in_shape, reference = CASES[i]
    params, out_shape, x = _build(layer, in_shape, i)

    @jax.jit
    def run(params, x):
        def loss(params, x):
            y, _ = layer.apply(params, {}, x, training=True, key=None)
            return jnp.sum(jnp.sin(y)), y
        (_, y), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, x)
        return y, grads

    y, grads = run(params, x)
    assert y.shape == (2, *out_shape)                       # the shape init declared
    as64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
    want = reference(layer, np.asarray(x, np.float64), as64)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    for g in jax.tree.leaves(grads):
        assert np.isfinite(np.asarray(g)).all()
    assert float(jnp.abs(grads[1]).sum()) > 0                # the input gets a gradient


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_config_round_trip(i):
    layer = CASES[i][0]
    config = json.loads(json.dumps(layer.get_config()))
    assert config["type"] == type(layer).__name__
    rebuilt = stackit.layers.layer_from_config(config)
    assert rebuilt == layer and hash(rebuilt) == hash(layer)


@pytest.mark.parametrize("strides, padding, dilation, out", [
    (2, "same", 1, (5, 6)), (2, "valid", 1, (7, 8)), (3, "same", 1, (7, 9)), (1, "same", 2, None),
])
def test_transpose_is_the_adjoint_of_the_convolution(strides, padding, dilation, out):
    """<conv(z, W), x> == <z, conv_transpose(x, W)> with one W, for every z and x."""
    t = Conv2DTranspose(2, 3, strides=strides, padding=padding, dilation_rate=dilation,
                        bias=False, output_size=out)
    params, out_shape, x = _build(t, (3, 3, 4), 1)
    fwd = Conv2D(4, 3, strides=strides, padding=padding, dilation_rate=dilation, bias=False)
    z = jnp.asarray(np.random.default_rng(2).normal(size=(2, *out_shape)), jnp.float32)
    conv_z, _ = fwd.apply(params, {}, z, training=False, key=None)
    assert conv_z.shape == x.shape
    tx, _ = t.apply(params, {}, x, training=False, key=None)
    np.testing.assert_allclose(float(jnp.vdot(conv_z, x)), float(jnp.vdot(z, tx)), rtol=1e-4)


def test_upscore_starts_as_tflearns_bilinear_upsampling():
    layer = Upscore(2, kernel_size=4, strides=2)
    params, _, out = layer.init(jax.random.PRNGKey(0), (4, 4, 3))
    w = np.asarray(params["up_filter"])
    assert w.shape == (4, 4, 2, 3) and out == (7, 7, 2)
    f, c = 2, (2 * 2 - 1 - 2 % 2) / 4    # tflearn: f = ceil(4 / 2), c = (2f - 1 - f % 2) / 2f
    for a, b in itertools.product(range(4), range(4)):
        assert w[a, b, 0, 0] == w[a, b, 1, 1] == pytest.approx(
            (1 - abs(a / f - c)) * (1 - abs(b / f - c)))
    assert w[:, :, 0, 1].sum() == w[:, :, 0, 2].sum() == 0
    y, _ = layer.apply(params, {}, jnp.ones((1, 4, 4, 3)), training=False, key=None)
    np.testing.assert_allclose(np.asarray(y)[0, 1:-1, 1:-1, :], 1.0, rtol=1e-6)  # flat stays flat


def test_grouped_conv_is_depthwise_with_tflearns_layout():
    params, _, out = GroupedConv2D(3, 2).init(jax.random.PRNGKey(0), (5, 5, 4))
    assert params["W"].shape == (2, 2, 4, 3) and "b" not in params and out == (5, 5, 12)


def test_highway_gate_parameters():
    params, _, out = HighwayConv2D(5, 3).init(jax.random.PRNGKey(0), (6, 6, 2))
    assert {k: v.shape for k, v in params.items()} == {
        "W": (3, 3, 2, 5), "b": (5,), "W_T": (5,), "b_T": (5,)}
    np.testing.assert_array_equal(np.asarray(params["b_T"]), -3.0)
    assert out == (6, 6, 5)


# -- tflearn's functions -------------------------------------------------------------------------

def test_tflearn_functions_keep_argument_order_and_defaults():
    def head(fn, n):
        return list(inspect.signature(fn).parameters)[:n]

    def defaults(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items()}

    for fn in (C.conv_1d, C.conv_3d):
        assert head(fn, 5) == ["incoming", "nb_filter", "filter_size", "strides", "padding"]
        assert defaults(fn) == defaults(C.conv_2d)
    for fn in (C.conv_2d_transpose, C.conv_3d_transpose):
        assert head(fn, 6) == ["incoming", "nb_filter", "filter_size", "output_shape",
                               "strides", "padding"]
    assert head(C.atrous_conv_2d, 5) == ["incoming", "nb_filter", "filter_size", "rate",
                                         "padding"]
    assert defaults(C.atrous_conv_2d)["rate"] == 1
    assert head(C.grouped_conv_2d, 3) == ["incoming", "channel_multiplier", "filter_size"]
    assert defaults(C.grouped_conv_2d)["bias"] is False
    assert defaults(C.max_pool_1d)["strides"] is None and defaults(C.avg_pool_1d)["strides"] is None
    assert defaults(C.max_pool_3d)["strides"] == 1 and defaults(C.avg_pool_3d)["strides"] == 1
    assert head(C.upsample_2d, 2) == ["incoming", "kernel_size"] and C.deconv_2d is C.upsample_2d
    d = defaults(C.upscore_layer)
    assert head(C.upscore_layer, 2) == ["incoming", "num_classes"]
    assert (d["shape"], d["kernel_size"], d["strides"]) == (None, 4, 2)
    for fn in (C.highway_conv_1d, C.highway_conv_2d):
        assert head(fn, 5) == ["incoming", "nb_filter", "filter_size", "strides", "padding"]
        assert "bias" not in defaults(fn)
    assert C.shallow_residual_block is C.residual_block
    assert C.deep_residual_block is C.residual_bottleneck


def test_tflearn_functions_build_the_classes_with_tflearns_shapes():
    seq = input_data(shape=[None, 100, 16])
    branches = [C.conv_1d(seq, 8, k, padding="valid", activation="relu") for k in (3, 4, 5)]
    assert [b.get_shape().as_list() for b in branches] == [
        [None, 98, 8], [None, 97, 8], [None, 96, 8]]
    assert isinstance(branches[0].layer, Conv1D) and branches[0].W.param == "W"
    assert C.global_max_pool(branches[0]).get_shape().as_list() == [None, 8]
    assert C.max_pool_1d(seq, 2).get_shape().as_list() == [None, 50, 16]
    assert C.avg_pool_1d(seq, 3, strides=2, padding="valid").get_shape().as_list() == [
        None, 49, 16]
    img = input_data(shape=[None, 7, 7, 8])
    assert C.conv_2d_transpose(img, 4, 3, [14, 14], strides=2).get_shape().as_list() == [
        None, 14, 14, 4]
    assert C.atrous_conv_2d(img, 4, 3, rate=2).get_shape().as_list() == [None, 7, 7, 4]
    assert C.grouped_conv_2d(img, 2, 3).get_shape().as_list() == [None, 7, 7, 16]
    assert C.upsample_2d(img, 2).get_shape().as_list() == [None, 14, 14, 8]
    assert C.upscore_layer(img, 3).get_shape().as_list() == [None, 13, 13, 3]
    assert C.upscore_layer(img, 3, shape=[None, 14, 14, 3]).get_shape().as_list() == [
        None, 14, 14, 3]
    assert C.highway_conv_2d(img, 8, 3).get_shape().as_list() == [None, 7, 7, 8]
    vol = input_data(shape=[None, 4, 6, 6, 2])
    assert C.conv_3d(vol, 3, 3, strides=2).get_shape().as_list() == [None, 2, 3, 3, 3]
    assert C.max_pool_3d(vol, 2).get_shape().as_list() == [None, 4, 6, 6, 2]   # strides=1
    assert C.avg_pool_3d(vol, [1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1]).get_shape().as_list() \
        == [None, 2, 3, 3, 2]
    assert C.conv_3d_transpose(vol, 2, 3, [8, 12, 12, 2], strides=2).get_shape().as_list() == [
        None, 8, 12, 12, 2]
    assert C.upscore_layer3d(vol, 2).get_shape().as_list() == [None, 7, 11, 11, 2]
    assert C.global_avg_pool(vol).get_shape().as_list() == [None, 2]
    named = C.conv_1d(seq, 4, 3, scope="Embed/conv")
    assert named.layer.name == "Embed/conv"


def test_keras_spellings_name_the_same_classes():
    L = stackit.layers.conv
    assert L.MaxPooling1D is L.MaxPool1D and L.MaxPooling3D is L.MaxPool3D
    assert L.AveragePooling2D is L.AvgPool2D and L.AveragePooling3D is L.AvgPool3D
    assert L.GlobalMaxPooling1D is L.GlobalMaxPooling2D is L.GlobalMaxPool
    assert L.GlobalAveragePooling3D is L.GlobalAvgPool and L.UpSampling2D is L.UpSample2D
    assert L.Conv2DTranspose(8, 3, strides=2).init(jax.random.PRNGKey(0), (4, 4, 2))[2] == (
        8, 8, 8)


# -- errors at connection time -------------------------------------------------------------------

@pytest.mark.parametrize("build, shape, match", [
    (lambda n: C.conv_1d(n, 4, 3, name="c"), [None, 8, 8, 3],
     r"conv_1d 'c': expected a 3-D input \(batch, steps, channels\)\. "
     r"Received: shape=\(None, 8, 8, 3\)\. For a 4-D input use conv_2d"),
    (lambda n: C.conv_3d(n, 4, 3), [None, 8, 8, 3], r"conv_3d .*5-D input.*use conv_2d"),
    (lambda n: C.conv_2d(n, 4, 3), [None, 8, 3], r"conv_2d .*4-D input.*use conv_1d"),
    (lambda n: C.max_pool_1d(n, 2), [None, 8, 8, 3], r"max_pool_1d .*3-D.*use max_pool_2d"),
    (lambda n: C.avg_pool_3d(n, 2), [None, 8, 3], r"avg_pool_3d .*5-D.*use avg_pool_1d"),
    (lambda n: C.conv_2d_transpose(n, 4, 3, [8, 8]), [None, 8, 3], r"conv_2d_transpose .*4-D"),
    (lambda n: C.conv_3d_transpose(n, 4, 3, [8, 8, 8]), [None, 8, 8, 3],
     r"conv_3d_transpose .*5-D.*use conv_2d_transpose"),
    (lambda n: C.atrous_conv_2d(n, 4, 3), [None, 8, 3], r"atrous_conv_2d .*4-D"),
    (lambda n: C.grouped_conv_2d(n, 2, 3), [None, 4, 4, 4, 3], r"grouped_conv_2d .*4-D"),
    (lambda n: C.highway_conv_1d(n, 4, 3), [None, 8, 8, 3], r"highway_conv_1d .*3-D.*2d"),
    (lambda n: C.upsample_2d(n, 2), [None, 8, 3], r"upsample_2d .*4-D.*\(None, 8, 3\)"),
    (lambda n: C.upscore_layer(n, 2), [None, 2, 2, 2, 3], r"upscore_layer .*4-D"),
    (lambda n: C.global_avg_pool(n), [None, 784], r"global_avg_pool.*\(None, 784\)"),
    (lambda n: C.conv_2d_transpose(n, 4, 3, [9, 9], strides=2), [None, 4, 4, 3],
     r"maps output_shape \[9, 9\] to spatial sizes \[5, 5\].*\[4, 4\]"),
    (lambda n: C.conv_3d(n, 2, 3, padding="valid"), [None, 2, 5, 5, 1], "does not fit"),
    (lambda n: C.upscore_layer(n, 2, shape=[9, 8]), [None, 4, 4, 3], "does not downsample"),
    (lambda n: C.highway_conv_2d(n, 4, 3, activation="crelu"), [None, 4, 4, 3],
     "activation must keep the shape"),
])
def test_wrong_inputs_are_refused_when_connected(build, shape, match):
    with pytest.raises(ValueError, match=match):
        build(input_data(shape=shape))


@pytest.mark.parametrize("make, match", [
    (lambda: Conv1D(0, 3), "nb_filter must be a positive int"),
    (lambda: Conv1D(4, (3, 3)), r"filter_size .*1-tuple.*\[1, w, 1\]"),
    (lambda: Conv3D(4, 3, strides=(1, 2)), r"strides .*triple.*\[1, d, h, w, 1\]"),
    (lambda: Conv3D(4, 3, strides=(2, 2, 2, 2, 2)), "strides"),
    (lambda: Conv2D(4, 3, strides=True), "strides"),
    (lambda: Conv2D(4, 3, dilation_rate=0), "dilation_rate"),
    (lambda: Conv1D(4, 3, padding="causal"), r"padding must be one of \('same', 'valid'\)"),
    (lambda: GroupedConv2D(0, 3), "channel_multiplier must be a positive int"),
    (lambda: Conv2DTranspose(2, 3, output_size=(4,)), r"output_shape must be \[new height"),
    (lambda: Conv2DTranspose(2, 3, output_size=(4, 4, 3)), "nb_filter=2"),
    (lambda: Conv3DTranspose(2, 3, output_size=(4, 4)), r"\[new depth, new height, new width"),
    (lambda: UpSample2D(0), "kernel_size"),
    (lambda: Upscore(0), "num_classes"),
    (lambda: Upscore(2, shape=(4, 4, 4)), "shape must hold the 2 output sizes"),
    (lambda: MaxPool3D((2, 2)), "kernel_size"),
    (lambda: AvgPool1D(2, strides=0), "strides"),
    (lambda: HighwayConv1D(2, 3, activation="nope"), "Unknown activation"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(("layer", "shape"), [
    (stackit.layers.conv.MaxPool2D(2), (8, 6, 3)),                 # tiles exactly
    (stackit.layers.conv.MaxPool2D(3, padding="valid"), (7, 8, 2)),  # last rows unreached
    (stackit.layers.conv.MaxPool2D(2), (7, 6, 2)),                 # 'same' pads: not tiled
    (MaxPool1D(4, padding="valid"), (10, 2)),
    (MaxPool3D(2, 2), (4, 6, 2, 2)),
])
def test_max_pools_that_tile_their_input_match_the_windowed_maximum(layer, shape):
    from jax import lax
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)  # no ties
    apply = lambda v: layer.apply({}, {}, v, training=True, key=None)[0]  # noqa: E731
    np.testing.assert_allclose(apply(x), np_pool(x, layer.kernel_size, layer.strides,
                                                 layer.padding, "max"), rtol=1e-6)
    dims, strides = layer.window()
    windowed = lambda v: lax.reduce_window(v, -jnp.inf, lax.max, dims, strides,  # noqa: E731
                                           layer.padding.upper())
    out = apply(x)
    g = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
    ours = jax.vjp(apply, x)[1](g)[0]
    theirs = jax.vjp(windowed, x)[1](g)[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_a_tiled_max_pool_shares_the_gradient_of_a_tie():
    layer = stackit.layers.conv.MaxPool2D(2)
    x = np.zeros((1, 2, 2, 1), np.float32)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 3.0  # two inputs tie for the maximum
    grad = jax.grad(lambda v: layer.apply({}, {}, v, training=True, key=None)[0].sum())(x)
    np.testing.assert_allclose(grad[0, :, :, 0], [[0.0, 0.5], [0.5, 0.0]])
