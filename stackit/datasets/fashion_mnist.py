"""Fashion-MNIST: Zalando's article images (H. Xiao, K. Rasul, R. Vollgraf).

70,000 grey-scale 28x28 images of 10 clothing classes (60,000 train, 10,000 test), in the
same IDX format as MNIST. Source: https://github.com/zalandoresearch/fashion-mnist (files
served from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/). Licence: MIT.

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag, 9 Ankle boot.

Example:
    >>> import stackit.datasets.fashion_mnist as fashion_mnist
    >>> X, Y, testX, testY = fashion_mnist.load_data(one_hot=True)
"""

from __future__ import annotations

import os

import numpy as np

from stackit.datasets import _standin
from stackit.datasets._fetch import RemoteFile, dataset_folder
from stackit.datasets._idx import load_idx_dataset

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # official
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",  # its repo
)


def _remote(name: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(name, tuple(base + name for base in _URLS), sha256, size)


# SHA-256 as recorded by tensorflow-datasets (url_checksums/fashion_mnist.txt); the label
# files in the project's GitHub repository have the same hashes.
FILES: dict[str, RemoteFile] = {
    f.name: f
    for f in (
        _remote(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            26421880,
        ),
        _remote(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            29515,
        ),
        _remote(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            4422102,
        ),
        _remote(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            5148,
        ),
    )
}


def load_data(
    data_dir: str | os.PathLike[str] | None = None, one_hot: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loads Fashion-MNIST, downloading and verifying the four official files on first use.

    Args:
        data_dir: Folder for the four `.gz` files; files already there are used as they are.
            Defaults to `None`: `$STACKIT_DATA/fashion_mnist`, else
            `~/.stackit/datasets/fashion_mnist`.
        one_hot: If true, labels are float32 one-hot rows of length 10. Defaults to `False`.

    Returns:
        `(X, Y, testX, testY)`: `X` float32 `(60000, 784)` with values in `[0, 1]`, `testX`
        float32 `(10000, 784)`; `Y`, `testY` int64 class ids `(N,)` (see `CLASS_NAMES`), or
        float32 `(N, 10)` when `one_hot`.

    Raises:
        DatasetDownloadError: If a file is missing and cannot be downloaded; the message says
            where to put it by hand.
        ChecksumMismatchError: If a download does not have the official SHA-256.
        DatasetFormatError: If a file in `data_dir` is truncated or not an IDX file.
        TypeError: If `data_dir` is not a path.
    """
    if _standin.requested():
        (x, y), (test_x, test_y) = _standin.image_sets(
            "fashion_mnist.load_data", "Fashion-MNIST", (784,), 10, one_hot)
        return x, y, test_x, test_y
    folder = dataset_folder("fashion_mnist", data_dir)
    return load_idx_dataset(FILES, folder, "Fashion-MNIST", one_hot)
