"""Stand-in data (`STACKIT_STANDIN_DATA=1`): every loader returns a few synthetic samples in its
dataset's layout, touches no file and no network, and says so in a warning."""

from __future__ import annotations

import numpy as np
import pytest

from stackit.datasets import (
    _standin,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    oxflower17,
    svhn,
)


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    monkeypatch.setenv(_standin.STANDIN_ENV, "1")
    monkeypatch.setenv(_standin.SAMPLES_ENV, "40")
    monkeypatch.setenv("STACKIT_DATA", str(tmp_path))  # nothing may be written here
    yield tmp_path
    assert not any(tmp_path.iterdir())


def _check_images(x, y, n, shape, n_classes, one_hot):
    assert x.shape == (n, *shape) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    if one_hot:
        assert y.shape == (n, n_classes) and y.dtype == np.float32
        np.testing.assert_array_equal(y.sum(axis=1), 1.0)
    else:
        assert y.shape == (n,) and y.dtype == np.int64 and 0 <= y.min() and y.max() < n_classes


@pytest.mark.parametrize("one_hot", [False, True])
def test_image_loaders_keep_their_layouts(stand_in, one_hot):
    with pytest.warns(UserWarning, match="cifar10.load_data returns STAND-IN DATA"):
        (x, y), (tx, ty) = cifar10.load_data(one_hot=one_hot)
    _check_images(x, y, 40, (32, 32, 3), 10, one_hot)
    _check_images(tx, ty, 10, (32, 32, 3), 10, one_hot)
    with pytest.warns(UserWarning, match="CIFAR-100"):
        (x, y), _ = cifar100.load_data(one_hot=one_hot, label_mode="coarse")
    _check_images(x, y, 40, (32, 32, 3), 20, one_hot)
    with pytest.warns(UserWarning, match="Fashion-MNIST"):
        x, y, tx, ty = fashion_mnist.load_data(one_hot=one_hot)
    _check_images(x, y, 40, (784,), 10, one_hot)
    with pytest.warns(UserWarning, match="SVHN"):
        x, y, tx, ty = svhn.load_data(one_hot=one_hot)
    _check_images(tx, ty, 10, (32, 32, 3), 10, one_hot)
    with pytest.warns(UserWarning, match="svhn.load_extra_data"):
        x, y = svhn.load_extra_data(one_hot=one_hot)
    _check_images(x, y, 40, (32, 32, 3), 10, one_hot)
    with pytest.warns(UserWarning, match="17 Category Flowers"):
        x, y = oxflower17.load_data(resize_pics=(24, 16), one_hot=one_hot)
    _check_images(x, y, 40, (16, 24, 3), 17, one_hot)  # (width, height) as tflearn


def test_mnist_stand_in_is_the_first_digits_of_the_shipped_sample(stand_in):
    with pytest.warns(UserWarning, match="first 40 training and 10 test digits"):
        x, y, tx, ty = mnist.load_data(one_hot=True)
    sx, sy, stx, _ = mnist.load_sample(one_hot=True)
    np.testing.assert_array_equal(x, sx[:40])
    np.testing.assert_array_equal(tx, stx[:10])
    assert y.shape == (40, 10) and ty.shape == (10, 10)


def test_imdb_stand_in_keeps_the_argument_rules(stand_in):
    with pytest.warns(UserWarning, match="imdb.load_data returns STAND-IN DATA"):
        (x, y), (vx, vy), (tx, ty) = imdb.load_data(n_words=50, valid_portion=0.25, maxlen=12)
    assert (len(x), len(vx), len(tx)) == (30, 10, 10) and len(y) == 30
    ids = [i for review in x + vx + tx for i in review]
    assert min(ids) >= 2 and max(ids) < 50
    assert max(len(review) for review in x + vx) < 12
    assert [len(r) for r in x] == sorted(len(r) for r in x)  # sort_by_len
    assert set(y) == {0, 1}
    with pytest.warns(UserWarning, match="made-up words"):
        assert min(imdb.get_word_index().values()) == imdb.INDEX_FROM
    with pytest.raises(ValueError):
        imdb.load_data(valid_portion=1.5)  # checked as without stand-ins


def test_the_same_arrays_every_run(stand_in):
    with pytest.warns(UserWarning):
        first = cifar10.load_data()[0][0]
    with pytest.warns(UserWarning):
        again = cifar10.load_data()[0][0]
    np.testing.assert_array_equal(first, again)


def test_environment_values_are_checked(monkeypatch):
    for off in ("", "0", "no", "false"):
        monkeypatch.setenv(_standin.STANDIN_ENV, off)
        assert not _standin.requested()
    monkeypatch.setenv(_standin.STANDIN_ENV, "yes")
    assert _standin.requested()
    monkeypatch.setenv(_standin.STANDIN_ENV, "maybe")
    with pytest.raises(ValueError, match="STACKIT_STANDIN_DATA must be 1"):
        _standin.requested()
    monkeypatch.setenv(_standin.SAMPLES_ENV, "1")
    with pytest.raises(ValueError, match="STACKIT_STANDIN_SAMPLES must be an int >= 2"):
        _standin.sizes()
    monkeypatch.delenv(_standin.SAMPLES_ENV)
    assert _standin.sizes() == (64, 16)
