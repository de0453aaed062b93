"""Oxford 17 Category Flower Dataset (M.-E. Nilsback, A. Zisserman).

1,360 colour photos of 17 British flower species, 80 per class, of varying sizes. The
archive `17flowers.tgz` holds them as `jpg/image_0001.jpg` ... `jpg/image_1360.jpg`, class
by class in file order; stackit sorts them into `jpg/00/` ... `jpg/16/` once, when
extracting. Source: https://www.robots.ox.ac.uk/~vgg/data/flowers/17/. Licence: none stated
by the authors (research use; cite Nilsback & Zisserman, CVPR 2006).

Classes (in the dataset's order): 0 daffodil, 1 snowdrop, 2 lily of the valley, 3 bluebell,
4 crocus, 5 iris, 6 tiger lily, 7 tulip, 8 fritillary, 9 sunflower, 10 daisy, 11 colt's
foot, 12 dandelion, 13 cowslip, 14 buttercup, 15 windflower, 16 pansy.

Example:
    >>> import stackit.datasets.oxflower17 as oxflower17
    >>> X, Y = oxflower17.load_data(one_hot=True, resize_pics=(227, 227))
    >>> X.shape, Y.shape
    ((1360, 227, 227, 3), (1360, 17))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stackit.data_utils import build_image_dataset_from_dir, to_categorical
from stackit.data_utils import shuffle as _shuffle
from stackit.datasets import _standin
from stackit.datasets._archive import extract_tar
from stackit.datasets._cache import read_npz, write_npz
from stackit.datasets._fetch import DatasetFormatError, RemoteFile, dataset_folder, fetch

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = (
    "daffodil", "snowdrop", "lily of the valley", "bluebell", "crocus", "iris",
    "tiger lily", "tulip", "fritillary", "sunflower", "daisy", "colt's foot",
    "dandelion", "cowslip", "buttercup", "windflower", "pansy",
)  # fmt: skip

N_CLASSES = 17
PER_CLASS = 80
ARCHIVE = "17flowers.tgz"
TOP = "jpg"
_CACHE_VERSION = 1

# SHA-256 as recorded by intel/dffml (examples/flower17/dataset.sh). The same file has the
# MD5 b59a65d8d1a99cd66944d474e1289eab recorded by other loaders.
FILES: dict[str, RemoteFile] = {
    ARCHIVE: RemoteFile(
        ARCHIVE,
        ("https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz",),
        "fe38a60f8b4a95e657551247d3e7d799a3fafcdbc595be504b12839967823d70",
    )
}


def _image_names() -> list[str]:
    return [f"image_{i:04d}.jpg" for i in range(1, N_CLASSES * PER_CLASS + 1)]


def _class_folder(label: int) -> str:
    # Zero-padded, so that sorted folder names give the class ids 0..16 in order.
    return f"{label:02d}"


def _sort_into_classes(jpg: Path) -> None:
    """Moves `jpg/image_NNNN.jpg` into `jpg/00/` ... `jpg/16/`, 80 images each, in file order."""
    names = _image_names()
    missing = [n for n in names if not (jpg / n).is_file()]
    if missing:
        raise DatasetFormatError(
            f"{ARCHIVE} must hold {len(names)} images jpg/image_0001.jpg ... "
            f"jpg/{names[-1]}. Received: {len(missing)} missing, e.g. {missing[:3]}. "
            "It is not the official archive; delete it and try again."
        )
    for label in range(N_CLASSES):
        (jpg / _class_folder(label)).mkdir()
    for i, name in enumerate(names):
        (jpg / name).rename(jpg / _class_folder(i // PER_CLASS) / name)
    (jpg / "files.txt").unlink(missing_ok=True)  # The archive's list of file names.


def _check_layout(jpg: Path) -> None:
    """Refuses a `jpg/` folder that stackit did not lay out (e.g. tflearn's `jpg/0..16`)."""
    found = sorted(e.name for e in os.scandir(jpg) if e.is_dir())
    expected = [_class_folder(label) for label in range(N_CLASSES)]
    if found != expected:
        raise DatasetFormatError(
            f"{jpg} should hold the class folders {expected[0]} ... {expected[-1]} that "
            f"stackit makes when it extracts {ARCHIVE}. Received: folders {found[:20]}. Move "
            "that folder away (stackit never deletes it) and run again to re-extract."
        )


def _parse_size(resize_pics: object) -> tuple[int, int]:
    size = tuple(resize_pics) if isinstance(resize_pics, (tuple, list)) else ()
    if len(size) != 2 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size
    ):
        raise ValueError(
            "Expected resize_pics to be a (width, height) pair of positive ints, e.g. "
            f"(224, 224); the photos differ in size. Received: resize_pics={resize_pics!r}"
        )
    return int(size[0]), int(size[1])


def load_data(
    dirname: str | os.PathLike[str] | None = None,
    resize_pics: Sequence[int] = (224, 224),
    shuffle: bool = True,
    one_hot: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads the 17 Category Flower Dataset, downloading and extracting it on first use.

    The resized images are cached as `17flowers_<width>x<height>.npz` in the dataset folder,
    so later calls with the same `resize_pics` skip decoding the 1,360 JPEGs.

    Args:
        dirname: Folder for `17flowers.tgz` and the extracted `jpg/` class folders; files
            already there are used as they are. Defaults to `None`:
            `$STACKIT_DATA/17flowers`, else `~/.stackit/datasets/17flowers`.
        resize_pics: `(width, height)` every photo is resized to (Pillow, LANCZOS).
            Defaults to `(224, 224)`.
        shuffle: If true, samples are shuffled with numpy's global random state (so
            `numpy.random.seed` makes the order repeatable). Defaults to `True`.
        one_hot: If true, labels are float32 one-hot rows of length 17. Defaults to `False`.

    Returns:
        `(X, Y)`: `X` float32 `(1360, height, width, 3)` with values in `[0, 1]`; `Y` int64
        class ids `(1360,)` (see `CLASS_NAMES`), or float32 `(1360, 17)` when `one_hot`.

    Raises:
        ValueError: If `resize_pics` is not a pair of positive ints.
        DatasetDownloadError: If the archive is missing and cannot be downloaded; the message
            says where to put it by hand.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the archive is truncated or lacks some of the 1,360 images.
        UnsafeArchiveError: If the archive holds links or paths leaving its folder.
        TypeError: If `dirname` is not a path.
    """
    width, height = _parse_size(resize_pics)
    if _standin.requested():
        return _standin.image_set("oxflower17.load_data", "17 Category Flowers",
                                  (height, width, 3), N_CLASSES, one_hot)
    folder = dataset_folder("17flowers", dirname)
    cache = folder / f"17flowers_{width}x{height}.npz"
    cached = read_npz(cache, ("images", "labels", "version"))
    if cached is not None and int(cached["version"]) == _CACHE_VERSION:
        images, labels = cached["images"], cached["labels"]
    else:
        jpg = folder / TOP
        if not jpg.is_dir():
            archive = fetch(FILES[ARCHIVE], folder, dataset="17 Category Flowers")
            extract_tar(archive, folder, TOP, prepare=_sort_into_classes)
        _check_layout(jpg)
        x, y = build_image_dataset_from_dir(
            jpg, resize=(width, height), filetypes=[".jpg", ".jpeg"], convert_gray=False
        )
        images = np.round(x * 255.0).astype(np.uint8)
        labels = np.asarray(y, dtype=np.uint8)
        write_npz(cache, images=images, labels=labels, version=np.array(_CACHE_VERSION))
    X = images.astype(np.float32) / np.float32(255.0)
    Y = to_categorical(labels, N_CLASSES) if one_hot else labels.astype(np.int64)
    if shuffle:
        X, Y = _shuffle(X, Y)
    return X, Y
