"""SVHN from MATLAB files (scipy): layout, label 10 -> digit 0, missing scipy."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import stackit.datasets.svhn as svhn
from stackit.datasets import DatasetFormatError
from tests.datasets.formats import sha256, svhn_mat


def _digits(seed, n):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(1, 11, n).astype(np.uint8)
    labels[0] = 10
    return images, labels


@pytest.mark.parametrize("one_hot", [True, False])
def test_download_and_parse(one_hot, publish):
    train, test = _digits(0, 6), _digits(1, 3)
    publish(svhn, "train_32x32.mat", svhn_mat(*train))
    publish(svhn, "test_32x32.mat", svhn_mat(*test))
    X, Y, testX, testY = svhn.load_data(one_hot=one_hot)
    assert X.shape == (6, 32, 32, 3) and testX.shape == (3, 32, 32, 3)
    assert X.dtype == np.float32
    np.testing.assert_allclose(X * 255, train[0], atol=1e-3)
    np.testing.assert_allclose(testX * 255, test[0], atol=1e-3)
    expected = train[1] % 10
    assert expected[0] == 0
    np.testing.assert_array_equal(Y.argmax(1) if one_hot else Y, expected)
    np.testing.assert_array_equal(testY.argmax(1) if one_hot else testY, test[1] % 10)
    assert Y.shape == ((6, 10) if one_hot else (6,))


def test_extra_data(publish):
    extra = _digits(2, 4)
    publish(svhn, "extra_32x32.mat", svhn_mat(*extra))
    X, Y = svhn.load_extra_data(one_hot=False)
    np.testing.assert_allclose(X * 255, extra[0], atol=1e-3)
    np.testing.assert_array_equal(Y, extra[1] % 10)


def test_truncated_mat_file(tmp_path, unreachable):
    blob = svhn_mat(*_digits(0, 5))
    unreachable(svhn, {"train_32x32.mat": sha256(blob)})
    (tmp_path / "train_32x32.mat").write_bytes(blob[: len(blob) // 2])
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(DatasetFormatError, match="train_32x32.mat"):
            svhn.load_data(data_dir=tmp_path)


def test_labels_out_of_range(tmp_path, unreachable):
    images, labels = _digits(0, 3)
    labels[1] = 11
    blob = svhn_mat(images, labels)
    unreachable(svhn, {"train_32x32.mat": sha256(blob)})
    (tmp_path / "train_32x32.mat").write_bytes(blob)
    with pytest.raises(DatasetFormatError, match="labels must be 1-10"):
        svhn.load_data(data_dir=tmp_path)


def test_missing_scipy_is_explained_before_downloading(monkeypatch, server, publish):
    publish(svhn, "train_32x32.mat", b"never fetched")
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # makes `import scipy.io` fail
    with pytest.raises(ImportError, match=r"pip install 'stackit\[svhn\]'"):
        svhn.load_data()
    assert server.requests == []
