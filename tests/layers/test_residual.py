"""The residual, bottleneck, ResNeXt and DenseNet blocks against numpy, with tflearn's shapes
and parameter counts, a training step, and their shape rules."""

import math

import numpy as np
import pytest

import stackit
from stackit.layers import input_data, residual_block
from stackit.layers.conv import (
    conv_2d,
    deep_residual_block,
    densenet_block,
    global_avg_pool,
    residual_bottleneck,
    resnext_block,
    shallow_residual_block,
)
from stackit.layers.core import fully_connected


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()


def _conv_same(x, w, b, stride):
    """TensorFlow-style 'same' convolution, NHWC / HWIO, by explicit window sums."""
    n, h, wd, _ = x.shape
    k = w.shape[0]
    out_h, out_w = math.ceil(h / stride), math.ceil(wd / stride)
    pad_h = max((out_h - 1) * stride + k - h, 0)
    pad_w = max((out_w - 1) * stride + k - wd, 0)
    xp = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                    (0, 0)))
    out = np.zeros((n, out_h, out_w, w.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", window, w)
    return out + b


def _avg_pool(x, s):
    n, h, w, c = x.shape
    return x.reshape(n, h // s, s, w // s, s, c).mean(axis=(2, 4))


def test_a_downsampling_widening_block_matches_numpy():
    net = input_data(shape=[None, 6, 6, 2])
    out = residual_block(net, 1, 4, downsample=True, batch_norm=False)
    assert out.get_shape().as_list() == [None, 3, 3, 4]
    model = stackit.DNN(out, seed=0)
    x = np.random.default_rng(0).normal(size=(3, 6, 6, 2)).astype(np.float32)
    w1, b1 = model.get_weights("Conv2D/W"), model.get_weights("Conv2D/b")
    w2, b2 = model.get_weights("Conv2D_1/W"), model.get_weights("Conv2D_1/b")

    branch = _conv_same(np.maximum(x, 0), w1, b1, 2)
    branch = _conv_same(np.maximum(branch, 0), w2, b2, 1)
    shortcut = np.pad(_avg_pool(x, 2), ((0, 0), (0, 0), (0, 0), (1, 1)))
    np.testing.assert_allclose(model.predict(x), branch + shortcut, rtol=1e-4, atol=1e-5)


def test_blocks_stack_and_keep_the_shape_without_downsampling():
    net = input_data(shape=[None, 8, 8, 4])
    out = residual_block(net, 3, 4)
    assert out.get_shape().as_list() == [None, 8, 8, 4]
    model = stackit.DNN(out, seed=0)
    kinds = [type(layer).__name__ for layer in model.net.layers]
    assert kinds.count("Merge") == 3 and kinds.count("Conv2D") == 6
    per_block = 2 * (3 * 3 * 4 * 4 + 4) + 2 * 2 * 4  # 2 convs + 2 batch norms
    assert sum(row.n_params for row in model.rows) == 3 * per_block


@pytest.mark.parametrize("shape, out_channels, match", [
    ([None, 8, 8, 4], 7, "must be even"),
    ([None, 8, 8, 4], 2, "must be even and >= 0"),
    ([None, 16], 4, "expected a 4-D input"),
])
def test_bad_residual_blocks_are_refused(shape, out_channels, match):
    with pytest.raises(ValueError, match=match):
        residual_block(input_data(shape=shape), 1, out_channels)


def _n_params(out):
    return sum(row.n_params for row in stackit.DNN(out, seed=0).rows)


def _kinds(out):
    return [type(layer).__name__ for layer in stackit.DNN(out, seed=0).net.layers]


def test_a_downsampling_widening_bottleneck_matches_numpy():
    net = input_data(shape=[None, 6, 6, 2])
    out = residual_bottleneck(net, 1, 3, 4, downsample=True, batch_norm=False)
    assert out.get_shape().as_list() == [None, 3, 3, 4]
    model = stackit.DNN(out, seed=0)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype(np.float32)
    w = [(model.get_weights(f"{c}/W"), model.get_weights(f"{c}/b"))
         for c in ("Conv2D", "Conv2D_1", "Conv2D_2")]
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    branch = _conv_same(relu(x), *w[0], 2)              # 1x1, stride 2 ('valid' = 'same' here)
    branch = _conv_same(relu(branch), *w[1], 1)          # 3x3
    branch = relu(_conv_same(branch, *w[2], 1))          # 1x1 with the activation
    shortcut = np.pad(_avg_pool(x, 2), ((0, 0), (0, 0), (0, 0), (1, 1)))
    np.testing.assert_allclose(model.predict(x), relu(branch + shortcut), rtol=1e-4, atol=1e-5)


def test_bottleneck_shapes_and_parameters_as_tflearns():
    net = conv_2d(input_data(shape=[None, 28, 28, 1]), 8, 3, bias=False)
    out = residual_bottleneck(net, 2, 4, 8)   # tflearn's MNIST ResNet, scaled down
    assert out.get_shape().as_list() == [None, 28, 28, 8]
    block = 2 * 8 + (8 * 4 + 4) + 2 * 4 + (9 * 4 * 4 + 4) + (4 * 8 + 8)  # bn, 1x1, bn, 3x3, 1x1
    assert _n_params(out) == 9 * 8 + 2 * block
    assert _kinds(out).count("Merge") == 2   # every block adds its shortcut (see the docstring)
    down = residual_bottleneck(out, 1, 4, 16, downsample=True)
    assert down.get_shape().as_list() == [None, 14, 14, 16]
    assert deep_residual_block is residual_bottleneck and shallow_residual_block is residual_block


def test_resnext_shapes_and_parameters_as_tflearns():
    net = input_data(shape=[None, 8, 8, 4])
    out = resnext_block(net, 1, 8, 32, downsample=True)      # cardinality 32: width 4
    assert out.get_shape().as_list() == [None, 4, 4, 8]
    width, groups = 4, 4 * 32
    expected = ((4 * width + width) + 2 * width               # 1x1 conv, batch norm
                + 9 * width * 32 + 2 * groups                 # depthwise 3x3 (no bias), bn
                + (groups * 8 + 8) + 2 * 8)                   # 1x1 conv, batch norm
    assert _n_params(out) == expected
    assert "GroupedConv2D" in _kinds(out)
    assert resnext_block(net, 2, 4, 8).get_shape().as_list() == [None, 8, 8, 4]


def test_densenet_matches_numpy_with_new_features_first():
    net = input_data(shape=[None, 4, 4, 2])
    out = densenet_block(net, 1, 3, bottleneck=False, downsample=False, batch_norm=False)
    assert out.get_shape().as_list() == [None, 4, 4, 3]
    model = stackit.DNN(out, seed=0)
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 2)).astype(np.float32)
    (w1, b1), (w2, b2) = [(model.get_weights(f"{c}/W"), model.get_weights(f"{c}/b"))
                          for c in ("Conv2D", "Conv2D_1")]
    assert w2.shape == (1, 1, 3 + 2, 3)
    joined = np.concatenate([_conv_same(np.maximum(x, 0), w1, b1, 1), x], axis=-1)
    want = _conv_same(np.maximum(joined, 0), w2, b2, 1)
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-4, atol=1e-5)


def test_densenet_shapes_and_parameters_as_tflearns():
    net = input_data(shape=[None, 8, 8, 4])
    out = densenet_block(net, 2, 3, dropout=True)
    assert out.get_shape().as_list() == [None, 4, 4, 3]   # transition to `growth`, pooled
    layer = lambda c: 2 * c + (c * 3 + 3) + 2 * 3 + (9 * 3 * 3 + 3)  # noqa: E731
    assert _n_params(out) == layer(4) + layer(7) + 2 * 10 + (10 * 3 + 3)
    kinds = _kinds(out)
    assert kinds.count("Merge") == 2 and "Dropout" in kinds and kinds[-1] == "AvgPool2D"


def test_blocks_train_a_step_with_a_finite_loss():
    net = input_data(shape=[None, 4, 4, 2])
    net = residual_bottleneck(net, 1, 2, 4)
    net = resnext_block(net, 1, 4, 32)
    net = densenet_block(net, 1, 2)
    net = fully_connected(global_avg_pool(net), 2, activation="softmax")
    net = stackit.regression(net, optimizer="sgd", learning_rate=0.1, batch_size=4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4, 4, 2)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 8)]
    history = stackit.DNN(net, seed=0).fit(x, y, n_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("build, match", [
    (lambda n: resnext_block(n, 1, 8, 3), r"cardinality must be one of \[1, 2, 4, 8, 32\]"),
    (lambda n: resnext_block(n, 1, 7, 4), "must be even"),
    (lambda n: residual_bottleneck(n, 1, 4, 2), "must be even and >= 0"),
    (lambda n: residual_bottleneck(n, 1, 0, 8), "bottleneck_size must be an int >= 1"),
    (lambda n: residual_bottleneck(n, -1, 4, 8), "nb_blocks must be an int >= 0"),
    (lambda n: densenet_block(n, 1, 0), "growth must be an int >= 1"),
    (lambda n: residual_bottleneck(n, 1, 4, 8, downsample=True, downsample_strides=0),
     "downsample_strides"),
])
def test_bad_blocks_are_refused_before_building(build, match):
    net = input_data(shape=[None, 8, 8, 4])
    with pytest.raises(ValueError, match=match):
        build(net)
    assert net.children == []   # nothing was connected


@pytest.mark.parametrize("block", [
    lambda n: residual_bottleneck(n, 1, 4, 8), lambda n: resnext_block(n, 1, 8, 4),
    lambda n: densenet_block(n, 1, 4),
])
def test_blocks_refuse_inputs_that_are_not_images(block):
    with pytest.raises(ValueError, match=r"expected a 4-D input.*\(None, 8, 4\)"):
        block(input_data(shape=[None, 8, 4]))
