"""The Street View House Numbers (SVHN) dataset, format 2: cropped 32x32 digits.

Y. Netzer, T. Wang, A. Coates, A. Bissacco, B. Wu, A. Y. Ng. 73,257 training, 26,032 test
and 531,131 extra colour digits, read from the official MATLAB files with scipy (install it
with `pip install 'stackit[svhn]'`). Source: http://ufldl.stanford.edu/housenumbers/.
Licence: non-commercial use only, as stated by the authors.

The `.mat` files label the digit 0 as 10; stackit returns the digit itself (0-9) as the class
id. (tflearn returned one-hot rows with digit 1 in column 0 and digit 0 in column 9.)

Example:
    >>> import stackit.datasets.svhn as svhn
    >>> X, Y, testX, testY = svhn.load_data()
    >>> X.shape, Y.shape
    ((73257, 32, 32, 3), (73257, 10))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from stackit.data_utils import to_categorical
from stackit.datasets import _standin
from stackit.datasets._fetch import DatasetFormatError, RemoteFile, dataset_folder, fetch

__all__ = ["load_data", "load_extra_data"]

_BASE = "http://ufldl.stanford.edu/housenumbers/"

# SHA-256 as recorded by tensorflow-datasets (url_checksums/svhn_cropped.txt).
FILES: dict[str, RemoteFile] = {
    f.name: f
    for f in (
        RemoteFile(
            "train_32x32.mat",
            (_BASE + "train_32x32.mat",),
            "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
            182040794,
        ),
        RemoteFile(
            "test_32x32.mat",
            (_BASE + "test_32x32.mat",),
            "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
            64275384,
        ),
        RemoteFile(
            "extra_32x32.mat",
            (_BASE + "extra_32x32.mat",),
            "a133a4beb38a00fcdda90c9489e0c04f900b660ce8a316a5e854838379a71eb3",
            1329278602,
        ),
    )
}


def _loadmat():
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise ImportError(
            "SVHN is distributed as MATLAB .mat files, which stackit reads with scipy. "
            "Install it with: pip install 'stackit[svhn]' (or pip install 'scipy>=1.10')."
        ) from err
    return loadmat


def _read(path: Path, one_hot: bool) -> tuple[np.ndarray, np.ndarray]:
    """Reads one SVHN `.mat` file into float32 NHWC images and 0-9 labels."""
    loadmat = _loadmat()
    try:
        mat = loadmat(path, variable_names=["X", "y"])
        images, labels = mat["X"], mat["y"]
    except (OSError, ValueError, EOFError, KeyError, TypeError, NotImplementedError) as err:
        raise DatasetFormatError(
            f"{path} is not a readable SVHN .mat file ({type(err).__name__}: {err}). It may "
            "be truncated or not the official file: delete it and try again."
        ) from err
    labels = np.asarray(labels).reshape(-1)
    ok = images.ndim == 4 and images.shape[:3] == (32, 32, 3) and images.dtype == np.uint8
    if not ok or images.shape[3] != labels.shape[0]:
        raise DatasetFormatError(
            f"{path} should hold X of shape (32, 32, 3, N) uint8 and N labels y. "
            f"Received: X {images.shape} {images.dtype}, y {labels.shape}."
        )
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise DatasetFormatError(
            f"{path}: SVHN labels must be 1-10 (10 meaning the digit 0). "
            f"Received: labels from {labels.min()} to {labels.max()}."
        )
    digits = labels.astype(np.int64) % 10  # 10 stands for the digit 0.
    x = images.transpose(3, 0, 1, 2).astype(np.float32) / np.float32(255.0)
    return x, to_categorical(digits, 10) if one_hot else digits


def _load(
    names: tuple[str, ...], data_dir: str | os.PathLike[str] | None, one_hot: bool
) -> list[np.ndarray]:
    _loadmat()  # Fail before downloading hundreds of megabytes if scipy is missing.
    folder = dataset_folder("svhn", data_dir)
    out: list[np.ndarray] = []
    for name in names:
        out.extend(_read(fetch(FILES[name], folder, dataset="SVHN"), one_hot))
    return out


def load_data(
    data_dir: str | os.PathLike[str] | None = None, one_hot: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loads the SVHN training and test digits, downloading them on first use.

    Args:
        data_dir: Folder for `train_32x32.mat` and `test_32x32.mat`; files already there are
            used as they are. Defaults to `None`: `$STACKIT_DATA/svhn`, else
            `~/.stackit/datasets/svhn`.
        one_hot: If true, labels are float32 one-hot rows of length 10, else int64 digits.
            Defaults to `True` (as in tflearn).

    Returns:
        `(X, Y, testX, testY)`: `X` float32 `(73257, 32, 32, 3)` and `testX` float32
        `(26032, 32, 32, 3)` with values in `[0, 1]`; `Y`, `testY` float32 `(N, 10)`, or
        int64 digits `(N,)` when not `one_hot`.

    Raises:
        ImportError: If scipy is not installed.
        DatasetDownloadError: If a file is missing and cannot be downloaded; the message says
            where to put it by hand.
        ChecksumMismatchError: If a download does not have the official SHA-256.
        DatasetFormatError: If a file is truncated or not an SVHN `.mat` file.
        TypeError: If `data_dir` is not a path.
    """
    if _standin.requested():
        (x, y), (test_x, test_y) = _standin.image_sets(
            "svhn.load_data", "SVHN", (32, 32, 3), 10, one_hot)
        return x, y, test_x, test_y
    x, y, test_x, test_y = _load(("train_32x32.mat", "test_32x32.mat"), data_dir, one_hot)
    return x, y, test_x, test_y


def load_extra_data(
    data_dir: str | os.PathLike[str] | None = None, one_hot: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Loads the 531,131 extra SVHN digits (`extra_32x32.mat`, 1.3 GB; about 6.5 GB as float32).

    Args:
        data_dir: Folder for `extra_32x32.mat`. Defaults to `None`: `$STACKIT_DATA/svhn`,
            else `~/.stackit/datasets/svhn`.
        one_hot: If true, labels are float32 one-hot rows of length 10, else int64 digits.
            Defaults to `True` (as in tflearn).

    Returns:
        `(extraX, extraY)`: float32 `(531131, 32, 32, 3)` in `[0, 1]`, and the labels.

    Raises:
        ImportError: If scipy is not installed.
        DatasetDownloadError: If the file is missing and cannot be downloaded.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the file is truncated or not an SVHN `.mat` file.
        TypeError: If `data_dir` is not a path.
    """
    if _standin.requested():
        return _standin.image_set("svhn.load_extra_data", "SVHN", (32, 32, 3), 10, one_hot)
    x, y = _load(("extra_32x32.mat",), data_dir, one_hot)
    return x, y
