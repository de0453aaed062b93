"""MNIST and Fashion-MNIST: IDX files end to end, the shipped sample and the fallback."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import stackit.datasets.fashion_mnist as fashion_mnist
import stackit.datasets.mnist as mnist
from stackit.datasets import DatasetDownloadError, DatasetFormatError
from tests.datasets.formats import idx_gz, mnist_like, sha256


def _check_layout(result, arrays, one_hot):
    X, Y, testX, testY = result
    images, labels = arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"]
    test_images = arrays["t10k-images-idx3-ubyte.gz"]
    test_labels = arrays["t10k-labels-idx1-ubyte.gz"]
    assert X.dtype == np.float32 and X.shape == (len(images), 784)
    np.testing.assert_allclose(X * 255, images.reshape(len(images), -1), atol=1e-3)
    np.testing.assert_allclose(testX * 255, test_images.reshape(len(test_images), -1), atol=1e-3)
    if one_hot:
        assert Y.shape == (len(labels), 10) and Y.dtype == np.float32
        np.testing.assert_array_equal(Y.argmax(1), labels)
        np.testing.assert_array_equal(Y.sum(1), 1)
        np.testing.assert_array_equal(testY.argmax(1), test_labels)
    else:
        assert Y.dtype == np.int64
        np.testing.assert_array_equal(Y, labels)
        np.testing.assert_array_equal(testY, test_labels)


@pytest.mark.parametrize("module", [mnist, fashion_mnist])
@pytest.mark.parametrize("one_hot", [False, True])
def test_download_and_parse(module, one_hot, publish, isolated_data, server):
    arrays = mnist_like(seed=3)
    for name, array in arrays.items():
        publish(module, name, idx_gz(array))
    _check_layout(module.load_data(one_hot=one_hot), arrays, one_hot)
    folder = isolated_data / module.__name__.rsplit(".", 1)[1]
    assert sorted(p.name for p in folder.iterdir()) == sorted(arrays)
    module.load_data()  # cached: no new request
    assert len(server.requests) == 4


def test_files_placed_by_hand_are_used_without_download(tmp_path, unreachable):
    arrays = mnist_like(seed=5)
    blobs = {name: idx_gz(a) for name, a in arrays.items()}
    unreachable(fashion_mnist, {name: sha256(b) for name, b in blobs.items()})
    for name, blob in blobs.items():
        (tmp_path / name).write_bytes(blob)
    _check_layout(fashion_mnist.load_data(data_dir=tmp_path), arrays, one_hot=False)


def test_offline_error_names_url_file_and_folder(unreachable, dead_url, isolated_data):
    unreachable(fashion_mnist)
    with pytest.raises(DatasetDownloadError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert f"{dead_url}/train-images-idx3-ubyte.gz" in message
    assert str(isolated_data / "fashion_mnist" / "train-images-idx3-ubyte.gz") in message


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[: len(blob) // 2],  # truncated gzip
        lambda blob: gzip.compress(gzip.decompress(blob)[:-100]),  # truncated IDX payload
        lambda blob: gzip.compress(gzip.decompress(blob) + b"\0"),  # trailing bytes
        lambda blob: gzip.compress(b"\0\0\x08\x01" + gzip.decompress(blob)[4:]),  # wrong magic
        lambda blob: b"<html>Not Found</html>",  # not gzip at all
    ],
    ids=["truncated-gzip", "truncated-idx", "too-long", "wrong-magic", "html"],
)
def test_damaged_file_is_a_format_error(damage, tmp_path, unreachable):
    arrays = mnist_like(seed=1)
    blobs = {name: idx_gz(a) for name, a in arrays.items()}
    unreachable(mnist, {name: sha256(b) for name, b in blobs.items()})
    blobs["train-images-idx3-ubyte.gz"] = damage(blobs["train-images-idx3-ubyte.gz"])
    for name, blob in blobs.items():
        (tmp_path / name).write_bytes(blob)
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(DatasetFormatError, match="train-images-idx3-ubyte.gz"):
            mnist.load_data(data_dir=tmp_path)


def test_load_sample_layout():
    X, Y, testX, testY = mnist.load_sample()
    assert X.shape == (4000, 784) and testX.shape == (1000, 784)
    assert X.dtype == testX.dtype == np.float32
    assert 0.0 == X.min() and X.max() == 1.0
    assert Y.dtype == np.int64 and Y.shape == (4000,) and testY.shape == (1000,)
    np.testing.assert_array_equal(np.bincount(Y), [400] * 10)
    np.testing.assert_array_equal(np.bincount(testY), [100] * 10)
    # Real digits: a "1" has far less ink than a "0".
    assert X[Y == 1].mean() < 0.6 * X[Y == 0].mean()
    X2, Y2, _, testY2 = mnist.load_sample(one_hot=True)
    np.testing.assert_array_equal(X2, X)
    assert Y2.shape == (4000, 10) and testY2.shape == (1000, 10)
    np.testing.assert_array_equal(Y2.argmax(1), Y)


def test_falls_back_to_sample_when_offline(monkeypatch, server):
    monkeypatch.setenv("STACKIT_OFFLINE", "1")
    with pytest.warns(UserWarning, match="Full MNIST not available .*5,000-image sample"):
        X, Y, testX, testY = mnist.load_data(one_hot=True)
    assert X.shape == (4000, 784) and Y.shape == (4000, 10) and testX.shape == (1000, 784)
    np.testing.assert_array_equal(X, mnist.load_sample()[0])


def test_falls_back_to_sample_when_download_fails(unreachable, dead_url):
    unreachable(mnist)
    with pytest.warns(UserWarning, match=f"Full MNIST not available .*{dead_url}"):
        X, Y, _, _ = mnist.load_data()
    assert X.shape == (4000, 784) and Y.shape == (4000,)
