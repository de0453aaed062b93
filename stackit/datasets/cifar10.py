"""CIFAR-10 (A. Krizhevsky, V. Nair, G. Hinton).

60,000 colour 32x32 images in 10 classes (50,000 train, 10,000 test), read from the official
binary archive (`cifar-10-binary.tar.gz`, not the pickled Python version: nothing downloaded
is ever unpickled). Source: https://www.cs.toronto.edu/~kriz/cifar.html. Licence: no explicit
licence; the authors ask that the tech report "Learning Multiple Layers of Features from Tiny
Images" (Krizhevsky, 2009) be cited.

Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
9 truck.

Example:
    >>> import stackit.datasets.cifar10 as cifar10
    >>> (X, Y), (testX, testY) = cifar10.load_data(one_hot=True)
    >>> X.shape
    (50000, 32, 32, 3)
"""

from __future__ import annotations

import os

import numpy as np

from stackit.datasets import _standin
from stackit.datasets._archive import extract_tar
from stackit.datasets._cifar import finish, read_records
from stackit.datasets._fetch import RemoteFile, dataset_folder, fetch

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

ARCHIVE = "cifar-10-binary.tar.gz"
TOP = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"

# SHA-256 as recorded by tensorflow-datasets (url_checksums/cifar10.txt).
FILES: dict[str, RemoteFile] = {
    ARCHIVE: RemoteFile(
        ARCHIVE,
        ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        170052171,
    )
}


def load_data(
    dirname: str | os.PathLike[str] | None = None, one_hot: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-10, downloading, verifying and extracting the archive on first use.

    Args:
        dirname: Folder for `cifar-10-binary.tar.gz` and its extracted
            `cifar-10-batches-bin/`; files already there are used as they are.
            Defaults to `None`: `$STACKIT_DATA/cifar10`, else `~/.stackit/datasets/cifar10`.
        one_hot: If true, labels are float32 one-hot rows of length 10. Defaults to `False`.

    Returns:
        `((X, Y), (testX, testY))`: `X` float32 `(50000, 32, 32, 3)` and `testX` float32
        `(10000, 32, 32, 3)`, values in `[0, 1]`; `Y`, `testY` int64 class ids (see
        `CLASS_NAMES`), or float32 `(N, 10)` when `one_hot`.

    Raises:
        DatasetDownloadError: If the archive is missing and cannot be downloaded; the message
            says where to put it by hand.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the archive or an extracted file is truncated or malformed.
        UnsafeArchiveError: If the archive holds links or paths leaving its folder.
        TypeError: If `dirname` is not a path.
    """
    if _standin.requested():
        return _standin.image_sets("cifar10.load_data", "CIFAR-10", (32, 32, 3), 10, one_hot)
    folder = dataset_folder("cifar10", dirname)
    top = folder / TOP
    if not top.is_dir():
        archive = fetch(FILES[ARCHIVE], folder, dataset="CIFAR-10")
        extract_tar(archive, folder, TOP, required=TRAIN_FILES + (TEST_FILE,))
    parts = [read_records(top / name, 1) for name in TRAIN_FILES]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1][:, 0] for p in parts])
    test_images, test_labels = read_records(top / TEST_FILE, 1)
    return (
        finish(images, labels, 10, one_hot, top),
        finish(test_images, test_labels[:, 0], 10, one_hot, top),
    )
