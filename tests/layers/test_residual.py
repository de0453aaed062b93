"""residual_block against a numpy pre-activation residual block, and its shape rules."""

import math

import numpy as np
import pytest

import stackit
from stackit.layers import input_data, residual_block


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
