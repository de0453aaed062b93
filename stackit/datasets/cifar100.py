"""CIFAR-100 (A. Krizhevsky, V. Nair, G. Hinton).

60,000 colour 32x32 images (50,000 train, 10,000 test) in 100 fine classes grouped into 20
coarse ones, read from the official binary archive (`cifar-100-binary.tar.gz`, not the
pickled Python version). Source: https://www.cs.toronto.edu/~kriz/cifar.html. Licence: no
explicit licence; the authors ask that "Learning Multiple Layers of Features from Tiny
Images" (Krizhevsky, 2009) be cited.

Example:
    >>> import stackit.datasets.cifar100 as cifar100
    >>> (X, Y), (testX, testY) = cifar100.load_data()
    >>> int(Y.max())
    99
"""

from __future__ import annotations

import os

import numpy as np

from stackit.datasets import _standin
from stackit.datasets._archive import extract_tar
from stackit.datasets._cifar import finish, read_records
from stackit.datasets._fetch import RemoteFile, dataset_folder, fetch

__all__ = ["load_data"]

ARCHIVE = "cifar-100-binary.tar.gz"
TOP = "cifar-100-binary"
TRAIN_FILE = "train.bin"
TEST_FILE = "test.bin"
_LABEL_COLUMN = {"coarse": (0, 20), "fine": (1, 100)}

# SHA-256 as recorded by tensorflow-datasets (url_checksums/cifar100.txt).
FILES: dict[str, RemoteFile] = {
    ARCHIVE: RemoteFile(
        ARCHIVE,
        ("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",),
        "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
        168513733,
    )
}


def load_data(
    dirname: str | os.PathLike[str] | None = None,
    one_hot: bool = False,
    *,
    label_mode: str = "fine",
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-100, downloading, verifying and extracting the archive on first use.

    Args:
        dirname: Folder for `cifar-100-binary.tar.gz` and its extracted `cifar-100-binary/`;
            files already there are used as they are. Defaults to `None`:
            `$STACKIT_DATA/cifar100`, else `~/.stackit/datasets/cifar100`.
        one_hot: If true, labels are float32 one-hot rows. Defaults to `False`.
        label_mode: `'fine'` (100 classes, what tflearn returns) or `'coarse'` (20
            superclasses). Defaults to `'fine'`.

    Returns:
        `((X, Y), (testX, testY))`: `X` float32 `(50000, 32, 32, 3)` and `testX` float32
        `(10000, 32, 32, 3)`, values in `[0, 1]`; `Y`, `testY` int64 class ids, or float32
        one-hot `(N, 100)` (`(N, 20)` for coarse labels) when `one_hot`.

    Raises:
        ValueError: If `label_mode` is not `'fine'` or `'coarse'`.
        DatasetDownloadError: If the archive is missing and cannot be downloaded; the message
            says where to put it by hand.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the archive or an extracted file is truncated or malformed.
        UnsafeArchiveError: If the archive holds links or paths leaving its folder.
        TypeError: If `dirname` is not a path.
    """
    if label_mode not in _LABEL_COLUMN:
        raise ValueError(
            f"Expected label_mode to be 'fine' or 'coarse'. Received: label_mode={label_mode!r}"
        )
    column, n_classes = _LABEL_COLUMN[label_mode]
    if _standin.requested():
        return _standin.image_sets("cifar100.load_data", "CIFAR-100", (32, 32, 3), n_classes,
                                   one_hot)
    folder = dataset_folder("cifar100", dirname)
    top = folder / TOP
    if not top.is_dir():
        archive = fetch(FILES[ARCHIVE], folder, dataset="CIFAR-100")
        extract_tar(archive, folder, TOP, required=(TRAIN_FILE, TEST_FILE))
    out = []
    for name in (TRAIN_FILE, TEST_FILE):
        images, labels = read_records(top / name, 2)
        out.append(finish(images, labels[:, column], n_classes, one_hot, top / name))
    return out[0], out[1]
